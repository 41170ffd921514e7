"""IMDb sentiment: the Keras introduction's SimpleRNN classifier, layer for layer, and a bidirectional GRU.

Each preset is trained with `studio fit` (its own epochs) and scored with `studio evaluate` on the
official 25,000 test reviews. Bar: the SimpleRNN preset reaches the 0.80 test accuracy people report
for the Keras example (0.80-0.85), and the BiGRU preset beats it.

The dataset (84 MB) is taken from `--path aclImdb/`, from the cache, or downloaded once (size and
SHA-256 checked). Where it cannot be had (no network, no copy), the benchmark says so and exits 0:
there is nothing to measure, and no easier stand-in is measured instead.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

from datamodules.imdb import imdb_folder
from studio.errors import StudioError
from studio.io import cache_root

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/studio-bench-imdb")
PRESETS = {"simplernn": "configs/classify/imdb-simplernn.yaml", "bigru": "configs/classify/imdb-bigru.yaml"}
REPORTED = (0.80, 0.85)


def studio(*args: str) -> subprocess.CompletedProcess:
    """The real command, in the benchmark's folder, its output shown as it runs."""
    command = [str(Path(sys.executable).with_name("studio")), *args]
    return subprocess.run(
        command, cwd=WORK, env=dict(os.environ, WANDB_MODE="offline"), check=True, text=True, capture_output=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="an unpacked aclImdb/ folder (default: the cache, or download)")
    args = parser.parse_args()
    try:
        folder = Path(args.path) if args.path else imdb_folder(cache_root())
    except StudioError as error:
        print(f"classify_imdb: the IMDb dataset cannot be had here ({error}); nothing measured")
        return
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    lines, data = [f"IMDb test accuracy (data: {folder})"], {"reported": REPORTED, "presets": {}}
    for name, preset in PRESETS.items():
        started = time.monotonic()
        studio("fit", "--config", str(ROOT / preset), "--data.init_args.path", str(folder), "--run_name", name)
        seconds = time.monotonic() - started
        studio("evaluate", "--ckpt", f"checkpoints/{name}/best.ckpt", "--split", "test")
        scores = json.loads(next((WORK / "samples" / name).glob("eval-*/evaluation.json")).read_text())[
            "classification"
        ]
        data["presets"][name] = {
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "train_seconds": seconds,
        }
        lines.append(
            f"  {name:<10} accuracy {scores['accuracy']:.4f}  macro-F1 {scores['macro_f1']:.4f}  ({seconds:.0f} s)"
        )
    simple, bigru = data["presets"]["simplernn"]["accuracy"], data["presets"]["bigru"]["accuracy"]
    met = simple >= REPORTED[0] and bigru > simple
    lines.append(
        f"reported for the Keras example: {REPORTED[0]:.2f}-{REPORTED[1]:.2f}; bar (SimpleRNN >= 0.80, BiGRU above it): {'MET' if met else 'NOT MET'}"
    )
    data["met"] = met
    report("classify_imdb", lines, data)


if __name__ == "__main__":
    main()
