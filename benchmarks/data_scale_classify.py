"""Data scale (classification): a JSONL manifest of 10 MB, 100 MB and 1 GB trains in flat memory.

Each manifest holds labelled "reviews" cut from the embedded six-language texts (a paragraph of 20 to
400 words each, labelled with its language), written under /tmp and deleted once measured. For each, a
child process under an address-space limit runs `studio fit` with the classification quickstart's
model on it for 20 steps on a cold cache: the store is prepared (two passes over the manifest, a record
at a time) and training starts, in one process whose peak RSS is read from wait4.

Bar: the peak RSS for the 1 GB manifest is at most 1.5x that for 10 MB, and under 3 GB.
Run: `python benchmarks/data_scale_classify.py` (about 15 minutes on two cores; `--sizes 10,100` for less).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from child_process import run_child
from timing import report

from datamodules.languages import LANGUAGES, language_words

ROOT = Path(__file__).resolve().parent.parent
MB, GB = 1_000_000, 1024**3
RSS_RATIO, RSS_CAP = 1.5, 3 * GB


def write_manifest(path: Path, size: int, seed: int = 0) -> int:
    """A JSONL manifest of about `size` bytes of labelled paragraphs; the number of records."""
    rng = np.random.default_rng(seed)
    words = {code: language_words(code) for code in LANGUAGES}
    codes = sorted(words)
    written = records = 0
    with open(path, "w", encoding="utf-8") as handle:
        while written < size:
            code = codes[int(rng.integers(len(codes)))]
            length = int(rng.integers(20, 401))
            start = int(rng.integers(0, len(words[code]) - length))
            line = json.dumps({"text": " ".join(words[code][start : start + length]), "label": code}) + "\n"
            handle.write(line)
            written += len(line.encode("utf-8"))
            records += 1
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000", help="manifest sizes in MB")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < 3 * max(sizes) * MB:
        sys.exit(
            f"data_scale_classify: {free / GB:.1f} GB free under /tmp, {3 * max(sizes) / 1000:.1f} GB needed: free disk space"
        )
    lines, data = ["Classification store and training, peak RSS by manifest size"], {"sizes_mb": sizes, "runs": {}}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="studio-classify-scale-") as folder:
            work = Path(folder)
            manifest = work / "reviews.jsonl"
            records = write_manifest(manifest, size * MB)
            env = dict(os.environ, STUDIO_CACHE=str(work / "cache"), OMP_NUM_THREADS="1", WANDB_MODE="disabled")
            command = [
                str(Path(sys.executable).with_name("studio")),
                *["fit", "--config", str(ROOT / "configs" / "classify" / "quickstart.yaml")],
                *["--data.init_args.path", str(manifest), "--data.init_args.max_len", "200"],
                *["--trainer.max_steps", "20", "--trainer.max_epochs", "null", "--trainer.limit_val_batches", "5"],
                *["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--run_name", "scale"],
            ]
            child = run_child(command, work, env, limit=8 * GB)
            if child.code != 0:
                sys.exit(f"data_scale_classify: the {size} MB run failed ({child.stderr_tail})")
            data["runs"][size] = {"records": records, "seconds": child.seconds, "peak_rss": child.peak_rss}
            lines.append(
                f"  {size:>5} MB  {records:>9,} records  {child.seconds:7.1f} s  peak RSS {child.peak_rss / MB:8.1f} MB"
            )
    smallest, largest = data["runs"][sizes[0]]["peak_rss"], data["runs"][sizes[-1]]["peak_rss"]
    ratio = largest / smallest
    met = ratio <= RSS_RATIO and largest < RSS_CAP
    lines.append(
        f"largest / smallest peak RSS: {ratio:.2f}x (bar <= {RSS_RATIO}x, and under {RSS_CAP / GB:.0f} GB): {'MET' if met else 'NOT MET'}"
    )
    data.update(ratio=ratio, met=met)
    report("data_scale_classify", lines, data)


if __name__ == "__main__":
    main()
