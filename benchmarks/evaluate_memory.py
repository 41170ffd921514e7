"""Held-out likelihood of a large text file in bounded memory: `studio evaluate --data` at 4 MB and at 40 MB.

    python benchmarks/evaluate_memory.py [--small_mb 4] [--large_mb 40]

Each size is scored in a child process of its own (the same code `studio evaluate` runs, with a tiny
character-level model so the model costs nothing and the reading is what is measured); each child
reports its peak resident memory above what it held before scoring. Bar: the large file costs at most
1.2x the small one's peak, and the rate does not fall (tokens/s of the large file >= 0.8x the small's).
The files are written to a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import report

from studio.resources import check_memory

LINE = "It is a truth universally acknowledged, that a single man in possession of a good fortune.\n"
CHILD = """
import json, resource, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from studio.codecs.text import TextCodec
from studio.evaluation.likelihood import text_likelihood
from studio.models import RecurrentLanguageModel
codec = TextCodec.train([sys.argv[2]])
model = RecurrentLanguageModel(vocab_size=codec.vocab_size, embedding_dim=4, hidden_size=4, num_layers=1).eval()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
began = time.perf_counter()
found = text_likelihood(model, codec, [Path(sys.argv[1])])
seconds = time.perf_counter() - began
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"tokens": found.tokens, "seconds": seconds, "before_mb": before / 1024, "peak_mb": peak / 1024}))
"""


def measure(megabytes: int, folder: Path) -> dict[str, float]:
    """Write a file of `megabytes` and score it in a child process; its tokens, time and memory."""
    path = folder / f"held_out_{megabytes}mb.txt"
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(megabytes * 1024 * 1024 // len(LINE)):
            handle.write(LINE)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), LINE],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        cwd=Path(__file__).resolve().parents[1],
    )
    path.unlink()
    found = json.loads(done.stdout.strip().splitlines()[-1])
    found["megabytes"] = megabytes
    found["grown_mb"] = found["peak_mb"] - found["before_mb"]
    return found


def main() -> None:
    """Score both sizes, print peak memory and rates, and whether the bars hold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small_mb", type=int, default=4)
    parser.add_argument("--large_mb", type=int, default=40)
    args = parser.parse_args()
    check_memory("this benchmark", 2 * 1024**3, "free some memory first")
    with tempfile.TemporaryDirectory(prefix="studio-evaluate-memory-") as folder:
        small, large = measure(args.small_mb, Path(folder)), measure(args.large_mb, Path(folder))
    memory = large["peak_mb"] / small["peak_mb"]
    rate = (large["tokens"] / large["seconds"]) / (small["tokens"] / small["seconds"])
    lines = ["Held-out likelihood of one text file (studio evaluate --data), tiny char model, one thread"]
    for found in (small, large):
        lines.append(
            f"  {found['megabytes']:>4} MB: {found['tokens']:,} tokens in {found['seconds']:.1f} s "
            f"({found['tokens'] / found['seconds']:,.0f} tokens/s); peak RSS {found['peak_mb']:.0f} MB "
            f"({found['grown_mb']:.0f} MB above the loaded process)"
        )
    memory_met, rate_met = memory <= 1.2, rate >= 0.8
    lines.append(
        f"  peak RSS {args.large_mb} MB / {args.small_mb} MB: {memory:.2f}x (bar <= 1.2x): {'MET' if memory_met else 'NOT MET'}"
    )
    lines.append(
        f"  tokens/s {args.large_mb} MB / {args.small_mb} MB: {rate:.2f}x (bar >= 0.8x): {'MET' if rate_met else 'NOT MET'}"
    )
    report("evaluate_memory", lines, {"small": small, "large": large, "memory_ratio": memory, "rate_ratio": rate})


if __name__ == "__main__":
    main()
