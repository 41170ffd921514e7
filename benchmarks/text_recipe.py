"""The text recipe against a plain PyTorch loop on corpora it was not tuned on, at two time budgets.

Bar (issue: a recipe that wins everywhere): `studio fit --config configs/text/quickstart.yaml`
given a time budget through `--trainer.max_time` alone (no step limit, so its schedule follows the
clock) reaches a held-out loss at least MARGIN nats/char lower than a plain 2x256 LSTM loop (the
loop of common char-RNN scripts, in benchmarks/timing.py: random windows of 64 characters, batch 32,
Adam at 2e-3, clipping at 5, the same embedding and layer sizes) given the same seconds, on every
corpus and every budget.

The corpora are none of Lady Susan, the corpus the preset was tuned on; all come with installed
packages, so the benchmark runs offline:
  - python_docs: the Python language reference's topics (technical English, pydoc_data);
  - divina_commedia: Dante's Divina Commedia (Italian verse, public domain; shipped with music21);
  - abc_tunes: the first MiB of Ryan's Mammoth Collection (1883) in ABC notation (music21's corpus).

Fairness: the two contenders of a cell train at the same time, each in its own process pinned to
its own CPU core with one thread, so both see the same machine in the same seconds (the cores swap
from one cell to the next). Each is scored afterwards by the same evaluator: one stateful pass over
the same held-out split (the preset's validation share, the tail of the corpus).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

BUDGETS_S = (80, 300)
MARGIN = 0.03
ABC_BYTES = 1 << 20
CORPORA = ("python_docs", "divina_commedia", "abc_tunes")


def corpus_args(name: str, work: Path) -> list[str]:
    """The data arguments that point `studio fit` (and the plain loop) at corpus `name`."""
    import music21

    if name == "python_docs":
        return ["--data.init_args.corpus=python_docs"]
    if name == "divina_commedia":
        path = Path(music21.__file__).parent / "languageExcerpts" / "trainingData" / "it.txt"
        return [f"--data.init_args.path={path}"]
    if name == "abc_tunes":
        target = work / "abc_tunes.txt"
        if not target.exists():
            tunes = sorted((Path(music21.__file__).parent / "corpus" / "ryansMammoth").glob("*.abc"))
            text = "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in tunes)
            target.write_text(text.encode("utf-8")[:ABC_BYTES].decode("utf-8", errors="ignore"), encoding="utf-8")
        return [f"--data.init_args.path={target}"]
    raise SystemExit(f"unknown corpus {name!r}: choose one of {', '.join(CORPORA)}")


def _data_module(data_args: list[str]):
    """The preset's data module for these arguments (the same split for both contenders)."""
    from timing import preset_data

    from datamodules import TextDataModule

    settings: dict[str, Any] = dict(arg.removeprefix("--data.init_args.").split("=", 1) for arg in data_args)
    return TextDataModule(val_fraction=preset_data("text")["val_fraction"], **settings)


def _score(model, data) -> float:
    from timing import stateful_eval_loss

    from datamodules.streams import StreamBatches

    return stateful_eval_loss(model.cpu(), StreamBatches(data.split()[1], 8, 128))


def run_studio(data_args: list[str], budget: int, run_dir: Path, extra: list[str], steps: int = -1) -> dict:
    """`studio fit` with the text quickstart for `budget` seconds; its final model's held-out loss."""
    from studio.cli.fit import StudioCLI

    cli = StudioCLI(
        args=[
            "fit",
            "--config",
            str(ROOT / "configs/text/quickstart.yaml"),
            *data_args,
            f"--trainer.max_time={_clock(budget)}",
            f"--trainer.max_steps={steps}",
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.callbacks=[]",
            f"--checkpoint.dirpath={run_dir}",
            f"--run_name={run_dir.name}",
            *extra,
        ]
    )
    return {"loss": _score(cli.model, cli.datamodule), "steps": cli.trainer.global_step}


def run_plain(data_args: list[str], budget: int, steps: int = -1) -> dict:
    """The plain loop for `budget` seconds on the same training split; its held-out loss."""
    import numpy as np
    import torch
    from timing import RandomWindows, plain_training_loop

    from studio.models import RecurrentLanguageModel

    torch.manual_seed(0)
    data = _data_module(data_args)
    model = RecurrentLanguageModel(vocab_size=data.codec.vocab_size, embedding_dim=64, hidden_size=256, num_layers=2)
    windows = RandomWindows(torch.from_numpy(data.split()[0].astype(np.int64)), 32, 64, seed=0)
    done = plain_training_loop(
        model, windows, lr=2e-3, clip=5.0, max_steps=steps if steps > 0 else 10**9, stateful=False, time_budget=budget
    )
    return {"loss": _score(model, data), "steps": done["steps"]}


def _clock(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f"{days:02d}:{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"


def child(args: argparse.Namespace) -> None:
    """One contender of one cell, pinned to one core with one thread; writes its result as JSON."""
    import torch

    os.sched_setaffinity(0, {args.core})
    torch.set_num_threads(1)
    data_args = corpus_args(args.corpus, Path(args.work))
    start = time.perf_counter()
    if args.child == "plain":
        result = run_plain(data_args, args.budget, args.steps)
    else:
        run_dir = Path(args.work) / f"run-{args.corpus}-{args.budget}-{os.getpid()}"
        result = run_studio(data_args, args.budget, run_dir, args.extra, args.steps)
    result["seconds"] = time.perf_counter() - start
    Path(args.out).write_text(json.dumps(result))


def cell(corpus: str, budget: int, work: Path, swap: bool, extra: list[str]) -> dict:
    """Both contenders of one cell at once, on separate cores; their results."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "STUDIO_PROGRESS_EVERY": "1000000"}
    procs = {}
    for contender, core in (("plain", int(swap)), ("studio", 1 - int(swap))):
        out = work / f"{corpus}-{budget}-{contender}.json"
        command = [sys.executable, __file__, "--child", contender, "--corpus", corpus, "--budget", str(budget)]
        command += ["--core", str(core), "--work", str(work), "--out", str(out), *[f"--extra={e}" for e in extra]]
        log = out.with_suffix(".log")  # a file, not a pipe: a full pipe would stall a contender on the clock
        with log.open("wb") as stderr:
            procs[contender] = (subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr), out)
    results = {}
    for contender, (proc, out) in procs.items():
        if proc.wait() != 0:
            tail = out.with_suffix(".log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"{contender} on {corpus} at {budget} s failed:\n{tail}")
        results[contender] = json.loads(out.read_text())
    return results


def prepare(corpora: list[str], work: Path) -> None:
    """Build each corpus's token store once, before any clock starts."""
    for corpus in corpora:
        _data_module(corpus_args(corpus, work)).prepare_store()


def main() -> None:
    """Every cell, one after another; the report lines print as they come."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", choices=("plain", "studio"))
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--corpora", default=",".join(CORPORA))
    parser.add_argument("--budget", type=int, default=0)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS_S)))
    parser.add_argument("--core", type=int, default=0)
    parser.add_argument("--steps", type=int, default=-1, help="a step limit too (experiments: step-matched runs)")
    parser.add_argument("--work", default=None)
    parser.add_argument("--out", default=None)
    parser.add_argument("--extra", action="append", default=[], help="an extra `studio fit` argument (experiments)")
    parser.add_argument("--name", default="text_recipe", help="the report's name under benchmarks/results/")
    args = parser.parse_args()
    if args.child:
        return child(args)
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("this benchmark needs two CPU cores (one per contender)")
    from timing import report

    corpora, budgets = args.corpora.split(","), [int(b) for b in args.budgets.split(",")]
    work = Path(tempfile.mkdtemp(prefix="studio-text-recipe-"))
    began = time.perf_counter()
    lines = [
        "Text recipe vs a plain PyTorch 2x256 LSTM loop: held-out nats/char, same seconds, one core and one thread each",
        f"  studio: configs/text/quickstart.yaml with --trainer.max_time only{' ' + ' '.join(args.extra) if args.extra else ''}",
        "  plain:  random windows 32x64, Adam 2e-3, clip 5 (benchmarks/timing.py)",
    ]
    print("\n".join(lines), flush=True)
    rows, failed = [], []
    try:
        prepare(corpora, work)
        for index, (corpus, budget) in enumerate((c, b) for c in corpora for b in budgets):
            result = cell(corpus, budget, work, swap=bool(index % 2), extra=args.extra)
            plain, studio = result["plain"], result["studio"]
            margin = plain["loss"] - studio["loss"]
            met = margin >= MARGIN
            failed += [] if met else [f"{corpus}@{budget}s"]
            rows.append({"corpus": corpus, "budget_s": budget, "plain": plain, "studio": studio, "margin": margin})
            line = (
                f"  {corpus:<16} {budget:>4} s: plain {plain['loss']:.3f} ({plain['steps']} steps), "
                f"studio {studio['loss']:.3f} ({studio['steps']} steps), margin {margin:+.3f} "
                f"{'MET' if met else 'NOT MET'}"
            )
            lines.append(line)
            print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = "MET in every cell" if not failed else f"NOT MET in {', '.join(failed)}"
    lines.append(f"  bar: studio lower by >= {MARGIN} nats/char in every cell: {verdict}")
    lines.append(f"  total {time.perf_counter() - began:.0f} s; Python {sys.version.split()[0]}")
    print(lines[-2] + "\n" + lines[-1])
    report(args.name, lines, {"rows": rows, "margin_bar": MARGIN, "extra": args.extra}, echo=False)


if __name__ == "__main__":
    main()
