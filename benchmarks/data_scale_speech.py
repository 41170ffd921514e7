"""Data scale (speech): the feature store of 1 hour and of 10 hours of audio, prepared and trained on in flat memory.

Each corpus is the embedded synthetic speech corpus (datamodules/synthetic_speech.py: speech-like
utterances with true phone alignments, one WAV and one .phn file each, in TIMIT layout), written by its
own generator with as many speakers as the hours need, under /tmp, and deleted once measured. For each,
two child processes under an address-space limit run the real commands on a cold cache, with the
tagging quickstart's settings and `--data.init_args.root` set to the corpus:
  `studio prepare`   scans the corpus and computes every utterance's features into the store;
  `studio fit`       maps the prepared store and trains 20 steps (validation limited to 5 batches).
Each child's peak RSS comes from wait4 (the store's feature threads are inside it).

Bar: for each command, the peak RSS on the largest corpus is at most 1.5x that on the smallest.
Run: `python benchmarks/data_scale_speech.py` (about 10 minutes on two busy cores, most of it writing the
10-hour corpus; `--minutes 3,15` to try it).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from child_process import Child, run_child
from timing import report

from datamodules import synthetic_speech

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "tagging" / "quickstart.yaml"
MB, GB = 1_000_000, 1024**3
RSS_RATIO, SAMPLE_RATE, UTTERANCES_PER_SPEAKER, STEPS = 1.5, 16000, 100, 20
# Disk per hour of audio: 16-bit WAV (115 MB), float32 features of 120 values per 10 ms (173 MB), and room.
DISK_PER_HOUR = 0.45 * GB


def mean_seconds(probe: int = 48) -> float:
    """The generator's mean utterance length in seconds, from `probe` utterances of several speakers."""
    total = 0
    for i in range(probe):
        audio, _ = synthetic_speech.synthesize(synthetic_speech._speaker(0, i % 8), 0, i, SAMPLE_RATE)
        total += audio.size
    return total / probe / SAMPLE_RATE


def write_corpus(folder: Path, minutes: float, mean: float) -> tuple[int, int, float]:
    """The synthetic corpus of about `minutes` of audio under `folder`: (speakers, utterances each, hours written)."""
    utterances = math.ceil(minutes * 60 / mean)
    speakers = max(8, math.ceil(utterances / UTTERANCES_PER_SPEAKER))
    each = math.ceil(utterances / speakers)
    synthetic_speech.generate(folder, speakers, each, seed=0, sample_rate=SAMPLE_RATE)
    samples = sum((wav.stat().st_size - 44) // 2 for wav in folder.glob("*/*.wav"))  # 16-bit mono PCM
    return speakers, each, samples / SAMPLE_RATE / 3600


def command(kind: str, corpus: Path) -> list[str]:
    """`studio prepare` or `studio fit` (20 steps) with the tagging quickstart's settings on `corpus`."""
    data = ["--config", str(CONFIG), "--data.init_args.root", str(corpus)]
    if kind == "prepare":
        return [sys.executable, "-m", "studio", "prepare", *data]
    trainer = [
        *["--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "null", "--trainer.max_time", "null"],
        *["--trainer.limit_val_batches", "5", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"],
    ]
    return [sys.executable, "-m", "studio", "fit", *data, *trainer, "--run_name", "scale"]


def measure(minutes: float, work: Path, mean: float, limit: int) -> dict[str, Any]:
    """Write a corpus of `minutes`, then prepare its store and train on it, each in a child; the figures."""
    folder = work / f"{minutes:g}min"
    corpus = folder / "corpus"
    folder.mkdir()
    started = os.times().elapsed
    speakers, each, hours = write_corpus(corpus, minutes, mean)
    row: dict[str, Any] = {"minutes": minutes, "hours": hours, "speakers": speakers, "utterances": speakers * each}
    row["write_s"] = os.times().elapsed - started
    print(f"  {hours:.2f} h written ({speakers * each:,} utterances) in {row['write_s']:.0f} s", flush=True)
    env = dict(os.environ, STUDIO_CACHE=str(folder / "cache"), OMP_NUM_THREADS="1", WANDB_MODE="disabled")
    env.pop("STUDIO_MEMORY_LIMIT_GB", None)
    for kind in ("prepare", "fit"):
        child: Child = run_child(command(kind, corpus), folder, env, limit)
        if child.code != 0:
            shutil.rmtree(folder, ignore_errors=True)
            sys.exit(
                f"data_scale_speech: `studio {kind}` on {hours:.2f} h failed, exit {child.code} ({child.stderr_tail})"
            )
        row[kind] = {"seconds": child.seconds, "peak_rss": child.peak_rss}
        print(f"    studio {kind}: {child.seconds:.0f} s, peak RSS {child.peak_rss / MB:,.0f} MB", flush=True)
    row["store_bytes"] = sum(p.stat().st_size for p in (folder / "cache" / "speech").rglob("*") if p.is_file())
    shutil.rmtree(folder, ignore_errors=True)
    return row


def available_memory() -> int:
    """MemAvailable from /proc/meminfo, in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def check_room(minutes: list[float], work: Path, limit: int) -> None:
    """Refuse to start when the largest corpus and its store would not fit on disk, or a child at the limit in memory."""
    needed = max(minutes) / 60 * DISK_PER_HOUR + 0.5 * GB
    free = shutil.disk_usage(work).free
    if free < needed:
        sys.exit(
            f"data_scale_speech: {free / GB:.1f} GB free under {work}, {needed / GB:.1f} GB needed: free disk space"
        )
    memory = available_memory()
    if memory < limit:
        sys.exit(
            f"data_scale_speech: {memory / GB:.1f} GB of memory available, a child may take {limit / GB:.1f} GB: "
            "lower --limit_gb or stop other work"
        )


def main() -> None:
    """Write each corpus, measure both commands on it, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="60,600", help="corpus sizes in minutes of audio, smallest first")
    parser.add_argument("--limit_gb", type=float, default=6.0, help="address-space limit of each child")
    args = parser.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    limit = int(args.limit_gb * GB)
    work = Path(tempfile.mkdtemp(prefix="data_scale_speech_"))
    try:
        check_room(minutes, work, limit)
        mean = mean_seconds()
        header = (
            f"Data scale (speech): synthetic corpus ({mean:.2f} s a mean utterance, {SAMPLE_RATE} Hz WAV), tagging "
            f"quickstart settings (log-mel 40 + deltas), {STEPS} training steps; each child under a {args.limit_gb:g} GB "
            f"address-space limit, {os.cpu_count()} cores"
        )
        print(header, flush=True)
        rows = [measure(m, work, mean, limit) for m in minutes]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        header,
        f"  {'audio':>8} {'utterances':>10} {'store':>9} {'write s':>8} {'prepare s':>9} {'prepare RSS':>12} "
        f"{'fit s':>6} {'fit RSS':>9}",
    ]
    for r in rows:
        lines.append(
            f"  {r['hours']:>6.2f} h {r['utterances']:>10,} {r['store_bytes'] / MB:>6,.0f} MB {r['write_s']:>8.0f} "
            f"{r['prepare']['seconds']:>9.0f} {r['prepare']['peak_rss'] / MB:>9,.0f} MB {r['fit']['seconds']:>6.0f} "
            f"{r['fit']['peak_rss'] / MB:>6,.0f} MB"
        )
    data: dict[str, Any] = {"mean_utterance_s": mean, "rows": rows, "bar": RSS_RATIO}
    small, large = rows[0], rows[-1]
    met = True
    for kind in ("prepare", "fit"):
        ratio = large[kind]["peak_rss"] / small[kind]["peak_rss"]
        met = met and ratio <= RSS_RATIO
        data[f"{kind}_ratio"] = ratio
        lines.append(
            f"  peak RSS of studio {kind}, {large['hours']:.2f} h vs {small['hours']:.2f} h: "
            f"{large[kind]['peak_rss'] / MB:,.0f} / {small[kind]['peak_rss'] / MB:,.0f} MB = {ratio:.2f}x "
            f"(bar <= {RSS_RATIO}x): {'MET' if ratio <= RSS_RATIO else 'NOT MET'}"
        )
    data["met"] = met
    report("data_scale_speech", lines, data)


if __name__ == "__main__":
    main()
