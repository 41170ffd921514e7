"""Start-up: how long the command takes to answer, against `python -c "import torch"` on the same machine.

Each command runs as a new process, 5 times, alternating with the baseline; the medians are compared.
Bars: `studio --help` and every command's help at most 0.5x the baseline; `studio sample --ckpt
lady-susan --length 200` (the bundled text model; a small checkpoint trained here where no bundle
ships) at most 3x. `studio fit --help --full`, LightningCLI's reference of every option, imports
Lightning to read the model and data classes: it is reported, not held to the bar.
Run: `python benchmarks/cli_startup.py` (about a minute) on an otherwise idle machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

ROOT = Path(__file__).resolve().parents[1]
STUDIO = str(Path(sys.executable).with_name("studio"))
RUNS, HELP_BAR, SAMPLE_BAR = 5, 0.5, 3.0
HELPS = [
    [],
    ["sample"],
    ["tag"],
    ["classify"],
    ["evaluate"],
    ["serve"],
    ["models"],
    ["fit"],
    ["validate"],
    ["test"],
    ["fit", "--full"],
]


def seconds(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall time of one run of `command` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def median_pair(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Medians of `command` and of the baseline, run in turns so that a busy spell slows both alike."""
    baseline = [sys.executable, "-c", "import torch"]
    mine, theirs = [], []
    for _ in range(RUNS):
        mine.append(seconds(command, cwd, env))
        theirs.append(seconds(baseline, cwd, env))
    return statistics.median(mine), statistics.median(theirs)


def tiny_checkpoint(work: Path, env: dict[str, str]) -> Path:
    """A small text model trained for a few steps on the embedded corpus (the bundles of #30 will replace it)."""
    fit = [
        *[STUDIO, "fit", "--config", str(ROOT / "configs" / "text" / "quickstart.yaml"), "--run_name", "startup"],
        *["--trainer.max_steps", "5", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"],
    ]
    subprocess.run(fit, cwd=work, env=env, check=True, capture_output=True)
    return work / "checkpoints" / "startup" / "last.ckpt"


def main() -> None:
    lines, data = ["Start-up against `python -c 'import torch'` (medians of 5, taken in turns)"], {"commands": {}}
    met = True
    with tempfile.TemporaryDirectory(prefix="studio-startup-") as folder:
        work = Path(folder)
        env = dict(os.environ, STUDIO_CACHE=str(work / "cache"), WANDB_MODE="disabled", OMP_NUM_THREADS="1")
        for words in HELPS:
            mine, torch_s = median_pair([STUDIO, *words[:1], "--help", *words[1:]], work, env)
            held = "--full" not in words
            ok = mine <= HELP_BAR * torch_s
            met &= ok or not held
            name = " ".join(["studio", *words[:1], "--help", *words[1:]])
            data["commands"][name] = {"seconds": mine, "torch_seconds": torch_s, "ratio": mine / torch_s, "held": held}
            verdict = ("MET" if ok else "NOT MET") if held else "reported (LightningCLI)"
            lines.append(
                f"  {name:<26} {mine:6.2f} s  torch {torch_s:5.2f} s  {mine / torch_s:5.2f}x  (bar {HELP_BAR}x) {verdict}"
            )
        from studio.generation.references import bundle_names

        ckpt = "lady-susan" if "lady-susan" in bundle_names() else str(tiny_checkpoint(work, env))
        command = [STUDIO, "sample", "--ckpt", ckpt, "--length", "200", "--out_dir", str(work / "samples")]
        mine, torch_s = median_pair(command, work, env)
        ok = mine <= SAMPLE_BAR * torch_s
        met &= ok
        data["commands"]["studio sample --length 200"] = {
            "seconds": mine,
            "torch_seconds": torch_s,
            "ratio": mine / torch_s,
        }
        lines.append(
            f"  {'studio sample --length 200':<26} {mine:6.2f} s  torch {torch_s:5.2f} s  {mine / torch_s:5.2f}x  (bar {SAMPLE_BAR}x) {'MET' if ok else 'NOT MET'}"
        )
    lines.append(f"bars: {'MET' if met else 'NOT MET'}")
    data["met"] = met
    report("cli_startup", lines, data)


if __name__ == "__main__":
    main()
