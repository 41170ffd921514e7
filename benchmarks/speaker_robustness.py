"""Speaker robustness: the spoken-digits preset with and without SpecAugment, in the same training time.

    python benchmarks/speaker_robustness.py [--seconds 90] [--arms baseline,specaug]

Each arm trains configs/tagging/spoken-digits.yaml (a 2x96 BiGRU, CTC; the validation and test
speakers are eSpeak NG voices never heard in training) with `studio fit --trainer.max_time` set to
the same number of seconds, one torch thread, the same seed; then `studio test` scores its best
checkpoint (by val_ler) on the held-out test voices. Arms:
  baseline   the preset with SpecAugment off
  specaug    2 frequency masks of up to 8 mel bands and 2 time masks of up to 20 frames
  freqmask   2 frequency masks of up to 8 mel bands only
  speed      speed perturbation: training copies at 0.9x and 1.1x (resampled audio; a 3x larger epoch)
  specaug+speed  both
The bar (issue #32): a lever's held-out-speaker label error rate at most half the baseline's.
The arms run one after another in this run, on the same machine; the corpus and its feature
store come from the cache (made once, about 15 s, by the first arm).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from timing import report  # noqa: E402

WORK = Path("/tmp/studio-bench-speaker-robustness")
PRESET = ROOT / "configs" / "tagging" / "spoken-digits.yaml"
SPEC = ("--data.init_args.freq_masks", "2", "--data.init_args.freq_width", "8")
TIME = ("--data.init_args.time_masks", "2", "--data.init_args.time_width", "20")
OFF = ("--data.init_args.freq_masks", "0", "--data.init_args.time_masks", "0")
NO_SPEED = ("--data.init_args.speed_perturb", "[]")
SPEED = ("--data.init_args.speed_perturb", "[0.9, 1.1]")
ARMS: dict[str, tuple[str, ...]] = {
    "baseline": OFF + NO_SPEED,
    "specaug": SPEC + TIME + NO_SPEED,
    "freqmask": SPEC + TIME[:1] + ("0",) + NO_SPEED,
    "speed": OFF + SPEED,
    "specaug+speed": SPEC + TIME + SPEED,
}


def studio(*args: str) -> str:
    """The real command in the benchmark's folder, one thread; its output (stdout and stderr)."""
    command = [str(Path(sys.executable).with_name("studio")), *args]
    env = dict(os.environ, WANDB_MODE="offline", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(command, cwd=WORK, env=env, text=True, capture_output=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def metric(output: str, name: str) -> float:
    """The last value of `name` in Lightning's printed metrics table."""
    found = re.findall(rf"{name}\W+([0-9.]+(?:e-?[0-9]+)?)", output)
    if not found:
        raise SystemExit(f"no {name} in the output:\n{output[-3000:]}")
    return float(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=90, help="training time of each arm")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    clock = time.strftime("%H:%M:%S", time.gmtime(args.seconds))
    lines = [f"Spoken digits, held-out eSpeak NG voices: test label error rate after {args.seconds} s of training each"]
    data: dict = {"seconds": args.seconds, "preset": str(PRESET.relative_to(ROOT)), "arms": {}}
    for arm in arms:
        started = time.monotonic()
        fit = studio(
            "fit",
            "--config",
            str(PRESET),
            *ARMS[arm],
            "--trainer.max_time",
            f"00:{clock}",
            "--trainer.enable_progress_bar",
            "false",
            "--run_name",
            arm,
        )
        wall = time.monotonic() - started
        epochs = re.findall(r"[Ee]poch (\d+)", fit)
        test = studio("test", "--config", str(PRESET), *ARMS[arm], "--ckpt_path", f"checkpoints/{arm}/best.ckpt")
        ler, val = metric(test, "test_ler"), metric(fit, "val_ler") if "val_ler" in fit else float("nan")
        data["arms"][arm] = {"args": list(ARMS[arm]), "test_ler": ler, "fit_wall_s": wall, "last_val_ler": val}
        data["arms"][arm]["epochs_seen"] = int(epochs[-1]) + 1 if epochs else None
        data["arms"][arm]["note"] = "fit wall time includes start-up and any store preparation"
        lines.append(f"  {arm:<14} test LER {ler:.4f}   ({' '.join(ARMS[arm][1::2])}; fit {wall:.0f} s wall)")
        print(lines[-1], flush=True)
    if "baseline" in data["arms"]:
        base = data["arms"]["baseline"]["test_ler"]
        for arm, row in data["arms"].items():
            if arm != "baseline":
                ratio = row["test_ler"] / base if base else float("inf")
                row["ratio_to_baseline"] = ratio
                row["met"] = row["test_ler"] <= base / 2
                lines.append(f"  {arm} / baseline = {ratio:.2f} (bar: <= 0.5): {'MET' if row['met'] else 'NOT MET'}")
    report("speaker_robustness", lines, data, echo=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
