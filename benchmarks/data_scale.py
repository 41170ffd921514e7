"""Data scale (text): preparing and training on 10 MB, 100 MB and 1 GB corpora in bounded memory.

For each generated corpus (the embedded English texts joined many times over, each copy rotated to
start elsewhere), child processes measure: the token store's preparation (MB/s, peak RSS); a first
`studio fit --config configs/text/quickstart.yaml` of 20 steps on a cold cache (preparation and
training in one process, peak RSS); and a second run, store reused (peak RSS, and the time from the
command's start to its first training step). On the largest corpus, the same command runs as two
CPU DDP processes (gloo, OMP_NUM_THREADS=1) on the prepared store, and each rank's peak RSS is read
(the launching rank's from wait4, the other's high-water mark from /proc). A last child trains the
quickstart model on its own corpus from the store's memory map and from the same ids held in RAM as a
torch tensor, both through StreamBatches, the two taking turns within each run (see THROUGHPUT).

Every child runs under an address-space limit, and the corpora live under /tmp and are deleted as
soon as they are measured, so a regression fails with a message instead of taking the machine down.

Bars: the worst peak RSS for the largest corpus is at most 1.5x that for the smallest and under
3 GB; the second run's first training step comes within 10 s; every DDP rank's peak RSS is under
3 GB; training tokens/s from the store is within 5 % of the in-memory path (median of runs).
Run: `python benchmarks/data_scale.py` (about 10 minutes on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from child_process import Child, run_child
from timing import report

from datamodules.corpora import EMBEDDED

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MB, GB = 1_000_000, 1024**3
RSS_RATIO, RSS_CAP, FIRST_STEP_S, SPEED_TOLERANCE = 1.5, 3 * GB, 10.0, 0.05
DDP_STEPS, SPEED_STEPS, SPEED_WARMUP, SPEED_RUNS, SPEED_BLOCK = 5, 100, 10, 5, 5
# Disk per MB of corpus: the corpus, two stores of one byte an id, and room to spare.
DISK_PER_BYTE = 3.5

PREPARE = """
import json, sys, time
from datamodules import TextDataModule
start = time.perf_counter()
data = TextDataModule(path=sys.argv[1])  # characters, the default held-out share
data.model_dims()  # what `studio fit` asks first: this prepares the store
print(json.dumps({"seconds": time.perf_counter() - start, "tokens": len(data._load().ids)}))
"""

# Tokens/s of the quickstart model (its config, its corpus) from the store's memory map and from the same
# ids held in RAM as a torch tensor, both through StreamBatches. The two take turns within each run, a
# block of steps at a time, so a spell of another program on the machine slows both alike. A step's time
# runs from the previous step's end to its own, which holds its compute and the fetch of the next batch
# (Lightning fetches one ahead): only steps whose batch and next batch come from one source are counted.
# A run's rate per source is one batch's tokens over the median of those times.
THROUGHPUT = """
import json, sys, time
import lightning as L, numpy as np, torch, yaml
from datamodules import TextDataModule
from datamodules.streams import StreamBatches
from studio.models import RecurrentLanguageModel
config = yaml.safe_load(open(sys.argv[1]))
steps, warmup, runs, block = map(int, sys.argv[2:6])
torch.set_num_threads(1)
data = TextDataModule(**config["data"]["init_args"])
mapped = data.split()[0]
in_ram = torch.from_numpy(np.array(mapped, dtype=np.int64))  # what the data module held before the store
assert isinstance(mapped, np.memmap)
class Turns:
    def __init__(self, first, second):
        self.sources, self.parts = [], (first, second)
    def __len__(self):
        return sum(len(part[1]) for part in self.parts)
    def __iter__(self):
        iterators = [(name, iter(batches)) for name, batches in self.parts]
        while True:
            for name, iterator in iterators:
                for _ in range(block):
                    self.sources.append(name)
                    yield next(iterator)
class StepEnds(L.Callback):
    def __init__(self):
        self.ends = []
    def on_train_batch_end(self, *args):
        self.ends.append(time.perf_counter())
rates = {"store": [], "memory": []}
for run in range(runs):
    torch.manual_seed(run)
    model = RecurrentLanguageModel(**data.model_dims(), **config["model"]["init_args"])  # as `studio fit` builds it
    ends = StepEnds()
    trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        gradient_clip_val=config["trainer"]["gradient_clip_val"], callbacks=[ends])
    parts = [(name, StreamBatches(tokens, data.batch_size, data.seq_len)) for name, tokens in (("store", mapped), ("memory", in_ram))]
    batches = Turns(*(parts if run % 2 == 0 else parts[::-1]))
    assert steps + block < len(batches), "the timed steps must be full batches inside one epoch"
    trainer.fit(model, train_dataloaders=batches)
    times = {"store": [], "memory": []}
    ahead = len(batches.sources) - steps  # 1 if the trainer fetched a batch ahead of the one it trained on
    for step in range(warmup, steps):
        if batches.sources[step] == batches.sources[step + ahead]:
            times[batches.sources[step]].append(ends.ends[step] - ends.ends[step - 1])
    for name, values in times.items():
        rates[name].append(data.batch_size * data.seq_len / float(np.median(values)))
print(json.dumps({**rates, "tokens": len(mapped)}))
"""


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


def fit_command(corpus: Path, run: str, step_file: Path, steps: int = 20, extra: tuple[str, ...] = ()) -> list[str]:
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
        str(steps),
        "--trainer.logger",
        "false",
        "--trainer.enable_progress_bar",
        "false",
        f"--run_name={run}",
        "--trainer.callbacks+=timing.StepFile",
        f"--trainer.callbacks.path={step_file}",
        *extra,
    ]


def _env() -> dict[str, str]:
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONPATH=os.pathsep.join([str(HERE), str(ROOT)]))
    env.pop("STUDIO_MEMORY_LIMIT_GB", None)
    return env


def measure(size_mb: int, work: Path, limit: int, ddp: bool) -> dict:
    """Preparation, a cold-cache fit and a store-reused fit (and with `ddp`, a 2-process fit) on `size_mb` MB."""
    folder = work / f"{size_mb}mb"
    folder.mkdir()
    corpus = folder / "corpus.txt"
    make_corpus(corpus, size_mb * MB)
    env = _env()
    result: dict = {"size_mb": size_mb, "bytes": corpus.stat().st_size}
    prepare = run_child(
        [sys.executable, "-c", PREPARE, str(corpus)], folder, dict(env, STUDIO_CACHE=str(folder / "cache-a")), limit
    )
    result["prepare"] = _summary(prepare)
    if prepare.code == 0:
        prepared = json.loads(prepare.stdout.strip().splitlines()[-1])
        result["prepare_mb_per_s"] = result["bytes"] / MB / prepared["seconds"]
        result["tokens"] = prepared["tokens"]
    shutil.rmtree(folder / "cache-a", ignore_errors=True)  # disk back before the next store is written
    fit_env = dict(env, STUDIO_CACHE=str(folder / "cache-b"))
    for name in ("cold", "reused"):  # the first run prepares the store, the second maps it
        step_file = folder / f"{name}.step"
        child = run_child(fit_command(corpus, name, step_file), folder, fit_env, limit, step_file)
        result[f"fit_{name}"] = _summary(child)
    if ddp:  # every rank hashes the corpus, finds the store prepared, and maps it
        distributed = ("--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp")
        command = fit_command(corpus, "ddp", folder / "ddp.step", DDP_STEPS, distributed)
        child = run_child(command, folder, dict(fit_env, OMP_NUM_THREADS="1"), limit, watch_children=True)
        result["ddp"] = _summary(child)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def throughput(work: Path, limit: int) -> dict:
    """Training tokens/s of the quickstart from the store and from RAM, alternating, in one child."""
    folder = work / "throughput"
    folder.mkdir()
    config = str(ROOT / "configs/text/quickstart.yaml")
    args = [config, str(SPEED_STEPS), str(SPEED_WARMUP), str(SPEED_RUNS), str(SPEED_BLOCK)]
    child = run_child(
        [sys.executable, "-c", THROUGHPUT, *args], folder, dict(_env(), STUDIO_CACHE=str(folder / "cache")), limit
    )
    result: dict = {"child": _summary(child)}
    if child.code == 0:
        result.update(json.loads(child.stdout.strip().splitlines()[-1]))
    shutil.rmtree(folder, ignore_errors=True)
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
        for key in ("prepare", "fit_cold", "fit_reused", "ddp")
        if key in row and row[key]["code"] != 0
    ]


def _size(mb: int) -> str:
    return f"{mb // 1000} GB" if mb >= 1000 and mb % 1000 == 0 else f"{mb} MB"


def lines_for(rows: list[dict], speed: dict, limit: int) -> tuple[list[str], dict]:
    """The report's table and bars."""
    lines = [
        f"Data scale (text, quickstart preset, 20 steps; each child under a {_gb(limit)} address-space limit)",
        f"  {'corpus':>8} {'prepare':>11} {'prep RSS':>10} {'fit RSS (cold)':>15} {'fit RSS (reused)':>17} "
        f"{'1st step (reused)':>18}",
    ]
    for row in rows:
        lines.append(
            f"  {_size(row['size_mb']):>8} {row.get('prepare_mb_per_s', float('nan')):>6.1f} MB/s "
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
        f"  worst peak RSS, {_size(large['size_mb'])} vs {_size(small['size_mb'])}: {_gb(_worst_rss(large))} / "
        f"{_gb(_worst_rss(small))} = {ratio:.2f}x (bar <= {RSS_RATIO}x and < {_gb(RSS_CAP)}): "
        f"{'MET' if rss_met else 'NOT MET'}",
        f"  second run (store reused), start to first training step: {first:.1f} s at worst "
        f"(bar <= {FIRST_STEP_S:.0f} s): {'MET' if first_met else 'NOT MET'}",
    ]
    data = {"rows": rows, "rss_ratio": ratio, "rss_met": rss_met, "first_step_s": first, "first_step_met": first_met}
    ddp = large.get("ddp")
    if ddp is not None:
        # Rank zero is the launched process itself; the other rank is the process it started.
        ranks = [ddp["peak_rss"], *ddp["children_peak_rss"][:1]]
        ddp_met = ddp["code"] == 0 and len(ranks) == 2 and max(ranks) < RSS_CAP
        lines.append(
            f"  2-process CPU DDP on {_size(large['size_mb'])} ({DDP_STEPS} steps, OMP_NUM_THREADS=1, store reused): "
            f"peak RSS per rank {', '.join(_gb(r) for r in ranks)} (bar each < {_gb(RSS_CAP)}): "
            f"{'MET' if ddp_met else 'NOT MET'}"
        )
        data.update(ddp_rank_peak_rss=ranks, ddp_met=ddp_met)
    if speed.get("store"):
        ratios = [s / m for s, m in zip(speed["store"], speed["memory"])]
        speed_ratio = statistics.median(ratios)
        speed_met = abs(speed_ratio - 1) <= SPEED_TOLERANCE
        lines += [
            f"  training tokens/s, quickstart ({speed['tokens']:,} training ids, 1 thread; {SPEED_RUNS} runs of "
            f"{SPEED_STEPS} steps, the two sources taking turns {SPEED_BLOCK} steps at a time; median step time):",
            f"    store (memory map) {', '.join(f'{v:,.0f}' for v in speed['store'])}",
            f"    in RAM (tensor)    {', '.join(f'{v:,.0f}' for v in speed['memory'])}",
            f"    store / in RAM per run {', '.join(f'{r:.3f}' for r in ratios)}; median {speed_ratio:.3f}x "
            f"(bar within {SPEED_TOLERANCE:.0%}): {'MET' if speed_met else 'NOT MET'}",
        ]
        data.update(speed=speed, speed_ratios=ratios, speed_ratio=speed_ratio, speed_met=speed_met)
    else:
        failures.append(f"throughput: exit {speed['child']['code']} ({speed['child']['stderr_tail'][-300:]})")
    lines += [f"  FAILED: {line}" for line in failures]
    return lines, data


def _check_room(sizes: list[int], limit: int, work: Path) -> None:
    """Refuse to start when the corpora would not fit on /tmp's disk, or two DDP ranks at the limit in memory."""
    disk = shutil.disk_usage(work).free
    needed = DISK_PER_BYTE * max(sizes) * MB
    if disk < needed:
        sys.exit(f"{work} has {disk / GB:.1f} GB free; the {_size(max(sizes))} corpus needs {needed / GB:.1f} GB")
    available = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemAvailable:")
    )
    if available < 2 * limit:
        sys.exit(
            f"{available / GB:.1f} GB of memory available; two ranks under --limit_gb need {2 * limit / GB:.1f} GB"
        )


def main() -> None:
    """Generate the corpora, measure each in child processes, print and keep the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000], help="corpus sizes in MB")
    parser.add_argument("--limit_gb", type=float, default=6.0, help="address-space limit of each child")
    args = parser.parse_args()
    limit = int(args.limit_gb * GB)
    sizes = sorted(args.sizes)
    work = Path(tempfile.mkdtemp(prefix="studio-data-scale-", dir="/tmp"))
    try:
        _check_room(sizes, limit, work)
        rows = [measure(size, work, limit, ddp=size == sizes[-1]) for size in sizes]
        speed = throughput(work, limit)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines, data = lines_for(rows, speed, limit)
    report("data_scale", lines, data)


if __name__ == "__main__":
    main()
