"""Data scale (text): preparing and training on 10 MB and 100 MB corpora in bounded memory.

For each generated corpus (the embedded English texts joined many times over, each copy rotated to
start elsewhere), child processes measure: the token store's preparation (MB/s, peak RSS); a first
`studio fit --config configs/text/quickstart.yaml` of 20 steps on a cold cache (preparation and
training in one process, peak RSS); and a second run, store reused (peak RSS, and the time from the
command's start to its first training step). Every child runs under an address-space limit, so a
regression fails with a message instead of taking the machine down.

Bars: the worst peak RSS for 100 MB is at most 1.5x that for 10 MB and under 3 GB; the second run's
first training step comes within 10 s. Run: `python benchmarks/data_scale.py` (a few minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

from datamodules.corpora import EMBEDDED

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB, GB = 1_000_000, 1024**3
RSS_RATIO, RSS_CAP, FIRST_STEP_S = 1.5, 3 * GB, 10.0

PREPARE = """
import json, sys, time
from datamodules import TextDataModule
start = time.perf_counter()
data = TextDataModule(path=sys.argv[1])  # the quickstart's settings: characters, val_fraction 0.1
data.model_dims()  # what `studio fit` asks first: this prepares the store
print(json.dumps({"seconds": time.perf_counter() - start, "tokens": len(data._load().ids)}))
"""


@dataclass
class Child:
    """What one child process did: exit code, wall time, peak RSS, and the tail of its stderr."""

    code: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr_tail: str
    first_step_s: Optional[float] = None


def make_corpus(path: Path, size: int) -> None:
    """Write about `size` characters of English: the embedded texts, each copy rotated and headed differently."""
    texts = [EMBEDDED["lady_susan"](), EMBEDDED["python_docs"]()]
    with open(path, "w", encoding="utf-8") as handle:
        written, part = 0, 0
        while written < size:
            base = texts[part % 2]
            start = (part * 104_729) % len(base)
            start = base.find("\n", start) + 1  # rotate at a line start, so every copy reads as text
            copy = f"\n\n== Part {part} ==\n\n" + base[start:] + base[:start]
            handle.write(copy[: size - written])
            written, part = written + min(len(copy), size - written), part + 1


def run_child(
    command: list[str], cwd: Path, env: dict[str, str], limit: int, step_file: Optional[Path] = None
) -> Child:
    """Run `command` under an address-space `limit`; its own peak RSS comes from wait4, not from sampling."""
    out, err = cwd / "child.out", cwd / "child.err"
    limit_as = lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start = time.perf_counter()
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr, preexec_fn=limit_as)
        first: Optional[float] = None
        finished, status, usage = 0, 0, None
        while step_file is not None and first is None:  # watch for the first step while the child runs
            finished, status, usage = os.wait4(process.pid, os.WNOHANG)
            if finished:
                break
            if step_file.exists():
                first = time.perf_counter() - start
            time.sleep(0.02)
        if not finished:
            _, status, usage = os.wait4(process.pid, 0)
        assert usage is not None
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    lines = err.read_text(errors="replace").strip().splitlines()
    return Child(process.returncode, seconds, usage.ru_maxrss * 1024, out.read_text(), " | ".join(lines[-3:]), first)


def fit_command(corpus: Path, run: str, step_file: Path) -> list[str]:
    """The issue's command, 20 steps, plus a step file that shows when training began."""
    return [
        sys.executable,
        "-m",
        "studio",
        "fit",
        "--config",
        str(ROOT / "configs/text/quickstart.yaml"),
        "--data.init_args.path",
        str(corpus),
        "--trainer.max_steps",
        "20",
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        f"--run_name={run}",
        "--trainer.callbacks+=timing.StepFile",
        f"--trainer.callbacks.path={step_file}",
    ]


def measure(size_mb: int, work: Path, limit: int) -> dict:
    """Preparation, a cold-cache fit and a store-reused fit on a corpus of `size_mb` MB."""
    folder = work / f"{size_mb}mb"
    folder.mkdir()
    corpus = folder / "corpus.txt"
    make_corpus(corpus, size_mb * MB)
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
    env.pop("STUDIO_MEMORY_LIMIT_GB", None)
    result: dict = {"size_mb": size_mb, "bytes": corpus.stat().st_size}
    prepare = run_child(
        [sys.executable, "-c", PREPARE, str(corpus)], folder, dict(env, STUDIO_CACHE=str(folder / "cache-a")), limit
    )
    result["prepare"] = _summary(prepare)
    if prepare.code == 0:
        prepared = json.loads(prepare.stdout.strip().splitlines()[-1])
        result["prepare_mb_per_s"] = result["bytes"] / MB / prepared["seconds"]
        result["tokens"] = prepared["tokens"]
    fit_env = dict(env, STUDIO_CACHE=str(folder / "cache-b"))
    for name in ("cold", "reused"):  # the first run prepares the store, the second maps it
        step_file = folder / f"{name}.step"
        child = run_child(fit_command(corpus, name, step_file), folder, fit_env, limit, step_file)
        result[f"fit_{name}"] = _summary(child)
    return result


def _summary(child: Child) -> dict:
    """What the report keeps of a child (its stdout, e.g. the model summary, is not)."""
    return {key: value for key, value in asdict(child).items() if key != "stdout"}


def _gb(value: float) -> str:
    return f"{value / GB:.2f} GB"


def _worst_rss(row: dict) -> int:
    return max(row[key]["peak_rss"] for key in ("prepare", "fit_cold", "fit_reused"))


def _failures(row: dict) -> list[str]:
    return [
        f"{row['size_mb']} MB {key}: exit {row[key]['code']} ({row[key]['stderr_tail'][-300:]})"
        for key in ("prepare", "fit_cold", "fit_reused")
        if row[key]["code"] != 0
    ]


def lines_for(rows: list[dict], limit: int) -> tuple[list[str], dict]:
    """The report's table and bars."""
    lines = [
        f"Data scale (text, quickstart preset, 20 steps; each child under a {_gb(limit)} address-space limit)",
        f"  {'corpus':>8} {'prepare':>11} {'prep RSS':>10} {'fit RSS (cold)':>15} {'fit RSS (reused)':>17} "
        f"{'1st step (reused)':>18}",
    ]
    for row in rows:
        lines.append(
            f"  {row['size_mb']:>5} MB {row.get('prepare_mb_per_s', float('nan')):>6.1f} MB/s "
            f"{_gb(row['prepare']['peak_rss']):>10} {_gb(row['fit_cold']['peak_rss']):>15} "
            f"{_gb(row['fit_reused']['peak_rss']):>17} {row['fit_reused']['first_step_s'] or float('nan'):>16.1f} s"
        )
    failures = [line for row in rows for line in _failures(row)]
    small, large = rows[0], rows[-1]
    ratio = _worst_rss(large) / _worst_rss(small)
    rss_met = not failures and ratio <= RSS_RATIO and _worst_rss(large) < RSS_CAP
    first = max((row["fit_reused"]["first_step_s"] or float("inf")) for row in rows)
    first_met = not failures and first <= FIRST_STEP_S
    lines += [
        f"  worst peak RSS, {large['size_mb']} MB vs {small['size_mb']} MB: {_gb(_worst_rss(large))} / "
        f"{_gb(_worst_rss(small))} = {ratio:.2f}x (bar <= {RSS_RATIO}x and < {_gb(RSS_CAP)}): "
        f"{'MET' if rss_met else 'NOT MET'}",
        f"  second run (store reused), start to first training step: {first:.1f} s at worst "
        f"(bar <= {FIRST_STEP_S:.0f} s): {'MET' if first_met else 'NOT MET'}",
        *(f"  FAILED: {line}" for line in failures),
    ]
    data = {"rows": rows, "rss_ratio": ratio, "rss_met": rss_met, "first_step_s": first, "first_step_met": first_met}
    return lines, data


def main() -> None:
    """Generate the corpora, measure each in child processes, print and keep the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="corpus sizes in MB")
    parser.add_argument("--limit_gb", type=float, default=4.0, help="address-space limit of each child")
    args = parser.parse_args()
    limit = int(args.limit_gb * GB)
    work = Path(tempfile.mkdtemp(prefix="studio-data-scale-"))
    try:
        rows = [measure(size, work, limit) for size in sorted(args.sizes)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines, data = lines_for(rows, limit)
    report("data_scale", lines, data)


if __name__ == "__main__":
    main()
