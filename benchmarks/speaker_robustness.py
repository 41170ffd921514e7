"""Speaker robustness: the spoken-digits preset with and without each lever, in the same training time, over seeds.

    python benchmarks/speaker_robustness.py [--seconds 90] [--seeds 3] [--arms baseline,gcmvn,...]

Each arm trains configs/tagging/spoken-digits.yaml (a 2x96 BiGRU, CTC; the validation and test
speakers are eSpeak NG voices never heard in training) with `studio fit --trainer.max_time` set to
the same number of seconds (no epoch limit, so an arm whose epochs are short trains as long as one
whose epochs are long), one torch thread, seed_everything 1234 + i for seed i (the corpus and its
speaker split stay the same); then `studio test` scores its best checkpoint (by val_ler) on the
held-out test voices with greedy decoding. An arm is a lever or levers joined by "+":
  baseline   the preset with SpecAugment, speed perturbation and noise off (per-utterance CMVN, as preset)
  nocmvn     no feature normalisation (the per-utterance CMVN row: baseline against this)
  gcmvn      global CMVN: the training frames' mean and deviation, carried in the checkpoint
  noise      one noisy copy of each training utterance (white, pink or babble at 5-20 dB SNR)
  specaug    2 frequency masks of up to 8 mel bands and 2 time masks of up to 20 frames
  freqmask   2 frequency masks of up to 8 mel bands only
  speed      speed perturbation: training copies at 0.9x and 1.1x (resampled audio; a 3x larger epoch)
Every arm stores a 3-gram over the training transcripts (it changes no training step). For the arms
in `--lm_arms` the test voices are also decoded through the API with CTC prefix beam search (width 8)
without the LM and with it, at the LM weight that scored best on the validation voices.
The bar (issue #32): a lever's held-out-speaker label error rate at most half the baseline's.
The arms run in this run, on the same machine, one after another or `--parallel` at a time, each
pinned to its own core (so each gets one core in either case); the corpus and its feature
stores come from the cache (made once, by the first arm that needs each).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
import torch  # noqa: E402
from timing import report  # noqa: E402

WORK = Path("/tmp/studio-bench-speaker-robustness")
PRESET = ROOT / "configs" / "tagging" / "spoken-digits.yaml"
D = "--data.init_args."
BASE: tuple[str, ...] = (
    f"{D}freq_masks",
    "0",
    f"{D}time_masks",
    "0",
    f"{D}speed_perturb",
    "[]",
    f"{D}noise_copies",
    "0",
)
BASE += (f"{D}cmvn", "utterance", f"{D}lm_order", "3")
LEVERS: dict[str, tuple[str, ...]] = {
    "baseline": (),
    "nocmvn": (f"{D}cmvn", "none"),
    "gcmvn": (f"{D}cmvn", "global"),
    "noise": (f"{D}noise_copies", "1", f"{D}noise_snr", "[5, 20]"),
    "specaug": (f"{D}freq_masks", "2", f"{D}freq_width", "8", f"{D}time_masks", "2", f"{D}time_width", "20"),
    "freqmask": (f"{D}freq_masks", "2", f"{D}freq_width", "8"),
    "speed": (f"{D}speed_perturb", "[0.9, 1.1]"),
}
DEFAULT_ARMS = "baseline,nocmvn,gcmvn,noise,specaug,freqmask,speed,speed+gcmvn+noise"
LM_WEIGHTS = (0.25, 0.5, 1.0)
BEAM = 8


def arm_args(arm: str) -> tuple[str, ...]:
    """The settings of an arm: the baseline's, then each lever's (later ones win)."""
    args = BASE
    for lever in arm.split("+"):
        if lever not in LEVERS:
            raise SystemExit(f"unknown lever {lever!r} in arm {arm!r}: choose from {', '.join(LEVERS)}")
        args += LEVERS[lever]
    return args


def studio(work: Path, core: int, *args: str) -> str:
    """The real command in the benchmark's folder, one thread pinned to `core`; its output (stdout and stderr)."""
    command = ["taskset", "-c", str(core), str(Path(sys.executable).with_name("studio")), *args]
    env = dict(os.environ, WANDB_MODE="offline", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run(command, cwd=work, env=env, text=True, capture_output=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def metric(output: str, name: str) -> float:
    """The last value of `name` in Lightning's printed metrics table."""
    found = re.findall(rf"{name}\W+([0-9.]+(?:e-?[0-9]+)?)", output)
    if not found:
        raise SystemExit(f"no {name} in the output:\n{output[-3000:]}")
    return float(found[-1])


def held_out() -> dict[str, list[tuple[Any, list[int]]]]:
    """The validation and test voices' (audio path, reference label ids) as `studio test` scores them."""
    import yaml

    from datamodules.speech import SpeechDataModule
    from studio.codecs.speech.ctc import collapse

    settings = yaml.safe_load(PRESET.read_text())["data"]["init_args"]
    data = SpeechDataModule(**settings)
    refs = {}
    for split in ("val", "test"):
        encoded = [(u.audio, data.labels.encode(u.labels)) for u in data.utterances(split)]
        refs[split] = [(audio, collapse(ids) if data.merge_repeats else ids) for audio, ids in encoded]
    return refs


def beam_rates(ckpt: Path, refs: dict[str, list[tuple[Any, list[int]]]]) -> dict[str, float]:
    """Test label error rate with beam search alone and with the LM (its weight chosen on the validation voices)."""
    from studio.codecs.speech import read_audio
    from studio.codecs.speech.ctc import edit_distance
    from studio.generation.api import Generator

    generator = Generator.from_checkpoint(ckpt)
    labels = generator.loaded.codec.labels
    audio = {path: read_audio(path) for split in refs.values() for path, _ in split}

    def rate(split: str, weight: float) -> float:
        edits = total = 0
        for path, ref in refs[split]:
            samples, sr = audio[path]
            spans = generator.tag(samples, sample_rate=sr, beam_width=BEAM, lm_weight=weight)
            edits += edit_distance(ref, labels.encode([label for label, _, _ in spans]))
            total += len(ref)
        return edits / max(total, 1)

    val = {w: rate("val", w) for w in LM_WEIGHTS}
    best = min(LM_WEIGHTS, key=lambda w: (val[w], w))
    return {"beam": rate("test", 0.0), "beam_lm": rate("test", best), "lm_weight": best, "lm_val_ler": val[best]}


def one_run(work: Path, arm: str, seed: int, clock: str, refs: Any, core: int) -> dict[str, Any]:
    """Train one arm with one seed on `core`, score its best checkpoint on the test voices (and with the LM)."""
    name = f"{arm}-s{seed}".replace("+", "_")
    started = time.monotonic()
    common = ("--config", str(PRESET), *arm_args(arm), "--seed_everything", str(seed))
    fit = studio(work, core, "fit", *common, "--trainer.max_time", f"00:{clock}", "--trainer.max_epochs", "-1", "--trainer.enable_progress_bar",
                 "false", "--run_name", name)  # fmt: skip
    wall = time.monotonic() - started
    epochs = re.findall(r"[Ee]poch (\d+)", fit)
    ckpt = work / "checkpoints" / name / "best.ckpt"
    test = studio(work, core, "test", *common, "--ckpt_path", str(ckpt))
    row: dict[str, Any] = {"seed": seed, "test_ler": metric(test, "test_ler"), "fit_wall_s": round(wall, 1)}
    row["epochs_seen"] = int(epochs[-1]) + 1 if epochs else None
    if refs is not None:
        row.update(beam_rates(ckpt, refs))
    return row


def write(out: str | None, lines: list[str], data: dict[str, Any]) -> None:
    """The report into benchmarks/results/ (default) or beside `out` (`out`.txt and `out`.json)."""
    if out is None:
        report("speaker_robustness", lines, data, echo=False)
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(data, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", "--budget", type=int, default=90, help="training time of each arm and seed")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per arm (seed_everything 1234, 1235, ...)")
    parser.add_argument(
        "--arms", default=DEFAULT_ARMS, help=f"comma-separated; levers joined by +: {', '.join(LEVERS)}"
    )
    parser.add_argument("--lm_arms", default="baseline,speed+gcmvn+noise", help="arms also decoded with beam and LM")
    parser.add_argument("--parallel", type=int, default=1, help="runs at once, each pinned to its own core")
    parser.add_argument("--out", help="write the report to OUT.txt and OUT.json instead of benchmarks/results/")
    parser.add_argument("--work", default=str(WORK), help="the folder the runs are written in (emptied first)")
    args = parser.parse_args()
    arms = [a for a in args.arms.split(",") if a]
    for arm in arms:
        arm_args(arm)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    clock = time.strftime("%H:%M:%S", time.gmtime(args.seconds))
    seeds = [1234 + i for i in range(args.seeds)]
    lines = [
        f"Spoken digits, held-out eSpeak NG voices: test label error rate after {args.seconds} s of training each, "
        f"seeds {', '.join(map(str, seeds))} (mean, then each seed)"
    ]
    data: dict = {"seconds": args.seconds, "seeds": seeds, "preset": str(PRESET.relative_to(ROOT)), "arms": {}}
    jobs = [(arm, seed) for arm in arms for seed in seeds]
    cores: queue.Queue[int] = queue.Queue()
    for core in sorted(os.sched_getaffinity(0))[: args.parallel]:
        cores.put(core)
    torch.set_num_threads(1)  # decoding in this process: one thread per job, like the runs
    refs = held_out() if any(arm in args.lm_arms.split(",") for arm in arms) else None

    def run(job: tuple[str, int]) -> dict[str, Any]:
        core = cores.get()  # one job per core at a time, pinned to it (this thread's decoding too)
        os.sched_setaffinity(0, {core})
        try:
            row = one_run(work, *job, clock, refs if job[0] in args.lm_arms.split(",") else None, core)
            print(f"  done: {job[0]} seed {job[1]}: test LER {row['test_ler']:.4f}", flush=True)
            return row
        finally:
            cores.put(core)

    with ThreadPoolExecutor(max_workers=args.parallel) as pool:
        done = dict(zip(jobs, pool.map(run, jobs)))
    for arm in arms:
        runs = [done[(arm, seed)] for seed in seeds]
        mean = statistics.mean(r["test_ler"] for r in runs)
        summary: dict[str, Any] = {"args": list(arm_args(arm)), "test_ler": mean, "runs": runs}
        summary["note"] = "fit wall time includes start-up and any store preparation"
        each = " ".join(f"{r['test_ler']:.4f}" for r in runs)
        walls = "/".join(f"{r['fit_wall_s']:.0f}" for r in runs)
        lines.append(f"  {arm:<20} test LER {mean:.4f}   [{each}]  (fit {walls} s wall)")
        if "beam" in runs[0]:
            for key, label in (("beam", f"beam {BEAM}"), ("beam_lm", f"beam {BEAM} + 3-gram LM")):
                summary[key] = statistics.mean(r[key] for r in runs)
                chosen = "/".join(format(r["lm_weight"], "g") for r in runs)
                weights = "" if key == "beam" else f" (weights {chosen}, chosen on val)"
                values = " ".join(f"{r[key]:.4f}" for r in runs)
                lines.append(f"  {arm + ', ' + label:<34} test LER {summary[key]:.4f}   [{values}]{weights}")
        data["arms"][arm] = summary
        print("\n".join(lines[-3:] if "beam" in runs[0] else lines[-1:]), flush=True)
    if "baseline" in data["arms"]:
        base = data["arms"]["baseline"]["test_ler"]
        for arm, row in data["arms"].items():
            if arm != "baseline":
                ratio = row["test_ler"] / base if base else float("inf")
                row["ratio_to_baseline"], row["met"] = ratio, row["test_ler"] <= base / 2
                lines.append(f"  {arm} / baseline = {ratio:.2f} (bar: <= 0.5): {'MET' if row['met'] else 'NOT MET'}")
        if "nocmvn" in data["arms"]:
            ratio = base / data["arms"]["nocmvn"]["test_ler"] if data["arms"]["nocmvn"]["test_ler"] else float("inf")
            lines.append(f"  per-utterance CMVN: baseline / nocmvn = {ratio:.2f}")
    write(args.out, lines, data)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
