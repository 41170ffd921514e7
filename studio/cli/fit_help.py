"""`studio fit --help` (and `validate`, `test`) at once: the options people use, the presets, and the way to all of them.

LightningCLI builds its help from Lightning's classes, which takes seconds to import, so a bare
`--help` prints this page instead. `--help --full` asks LightningCLI for the reference of every
option (as does `--help` after a `--config`), and `--model.help CLASS` for a model's own settings.
A test checks that every option named here is one LightningCLI takes.
"""

from __future__ import annotations

from pathlib import Path

HELP_FLAGS = ("-h", "--help")
FULL_FLAG = "--full"
CONFIG_FLAGS = ("-c", "--config")
LINE = 120  # the width the preset lines are cut to

WHAT = {
    "fit": "Train a model from a preset or a run's config (LightningCLI).",
    "validate": "Evaluate a checkpoint on the validation split of its config's data.",
    "test": "Evaluate a checkpoint on the test split of its config's data.",
}
EXAMPLES = {
    "fit": (
        "studio fit --config configs/text/quickstart.yaml",
        "studio fit --config configs/midi/quickstart.yaml --trainer.max_steps 300",
        "studio fit --config checkpoints/<run>/config.yaml --ckpt_path last      # resume",
        "studio fit --config configs/midi/quickstart.yaml --data.init_args.paths my_midis/ --init_from bach-chorales",
    ),
    "validate": ("studio validate --config checkpoints/<run>/config.yaml --ckpt_path checkpoints/<run>/best.ckpt",),
    "test": ("studio test --config checkpoints/<run>/config.yaml --ckpt_path checkpoints/<run>/best.ckpt",),
}
# (option, what it does); every one is an option LightningCLI takes (tests/test_fit_help.py checks).
OPTIONS: tuple[tuple[str, str], ...] = (
    ("-c, --config FILE", "a preset or a run's config.yaml (several merge in order)"),
    ("--model.init_args.NAME VALUE", "a model setting, e.g. --model.init_args.hidden_size 512"),
    ("--data.init_args.NAME VALUE", "a data setting, e.g. --data.init_args.batch_size 64"),
    ("--trainer.max_steps N", "optimizer steps to train for"),
    ("--trainer.max_time DD:HH:MM:SS", "a time limit (a line says so when it stops a run)"),
    ("--trainer.accelerator cpu|gpu|auto", "where to train"),
    ("--trainer.devices N", "how many devices (with --trainer.strategy ddp for several)"),
    ("--trainer.num_nodes N", "how many machines (see docs/distributed.md)"),
    ("--trainer.strategy ddp", "data-parallel training across devices and nodes"),
    ("--trainer.precision bf16-mixed", "mixed precision on a GPU (32-true by default)"),
    ("--trainer.logger false", "no W&B run (metrics.csv is written all the same)"),
    ("--seed_everything N", "the run's seed"),
    ("--run_name NAME", "the run's name: its folder under checkpoints/ (default: model-data-time)"),
    ("--init_from NAME|FILE|URL", "start from a bundled model's or a checkpoint's weights (fine-tuning)"),
    ("--ckpt_path last|FILE", "fit: resume a run; validate, test: the checkpoint to evaluate"),
    ("--print_config", "print the whole configuration and stop"),
)


def wants_quick_help(arguments: list[str]) -> bool:
    """Whether a subcommand's `arguments` ask for help alone (no config to describe, no full reference)."""
    return (
        any(a in HELP_FLAGS for a in arguments)
        and FULL_FLAG not in arguments
        and not any(a in CONFIG_FLAGS or a.startswith("--config=") for a in arguments)
    )


def _cut(text: str, room: int) -> str:
    """`text` in at most `room` characters, an ellipsis marking a cut."""
    return text if len(text) <= room else text[: max(room - 1, 0)].rstrip() + "…"


def presets(folder: Path = Path("configs")) -> list[tuple[str, str]]:
    """Each preset under `folder` with the first line of its leading comment."""
    found = []
    for path in sorted(folder.glob("*/*.yaml")):
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
        about = first[0].lstrip("# ").strip() if first and first[0].startswith("#") else ""
        found.append((path.as_posix(), about))
    return found


def quick_help(command: str, folder: Path = Path("configs")) -> str:
    """The help page of `studio fit`, `validate` or `test`."""
    width = max(len(option) for option, _ in OPTIONS)
    lines = [
        f"usage: studio {command} --config FILE [--section.option VALUE ...]",
        "",
        WHAT[command] + " Every value of the YAML can be overridden with --section.option VALUE.",
        "",
        "examples:",
        *(f"  {example}" for example in EXAMPLES[command]),
        "",
        "options people use:",
        *(f"  {option:<{width}}  {about}" for option, about in OPTIONS),
        "",
    ]
    found = presets(folder)
    trainers = [path for path, _ in found if path.startswith(f"{folder.as_posix()}/trainer/")]
    runs = [(path, about) for path, about in found if path not in trainers]
    if found:
        lines.append(f"presets ({folder}/):")
        column = max((len(path) for path, _ in runs), default=0)
        lines += [f"  {path:<{column}}  {_cut(about, LINE - column - 4)}" for path, about in runs]
        if trainers:
            lines.append(f"  trainer settings to add as a second --config: {', '.join(trainers)}")
    else:
        lines.append("presets: the configs/ folder of the Studio repository (run from its root to list them here)")
    lines += [
        "",
        f"every option, with its type and default (loads Lightning, a few seconds): studio {command} --help --full",
        f"a model's or data module's own settings: studio {command} --model.help SequenceClassifier, "
        f"studio {command} --data.help datamodules.midi.MidiDataModule",
    ]
    return "\n".join(lines)
