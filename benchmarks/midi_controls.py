"""MIDI controls: how far note-density and pitch-class controls steer a model trained with them.

    python benchmarks/midi_controls.py [--ckpt checkpoints/<run>/last.ckpt] [--pieces 8] [--seconds 30]

The model is configs/midi/quickstart.yaml trained here with `--data.init_args.controls [density,
pitch_histogram]` (a few minutes on a CPU), or --ckpt of a model trained with both controls. Every
number compares pieces sampled with a control against pieces sampled without one (same seed, same
run): notes per second for several asked densities, and the share of notes in C major and in F#
major (six semitones apart: no scale is further) when the pitch-class control asks for either.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from midi_models import quickstart_model  # noqa: E402
from timing import report  # noqa: E402

from studio.codecs.midi.controls import control_vector  # noqa: E402
from studio.generation.midi import sample_pieces  # noqa: E402
from studio.generation.sampling import SamplingSettings  # noqa: E402

C_MAJOR = np.array([1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1])
F_SHARP_MAJOR = np.roll(C_MAJOR, 6)
DENSITIES = (1.5, 3.0, 6.0, 12.0)


def measure(model, codec, controls: Optional[np.ndarray], pieces: int, seconds: float) -> dict[str, float]:
    """Notes per second, and shares of notes in C major and in F# major, over `pieces` sampled pieces."""
    sampled = sample_pieces(model, codec, pieces, SamplingSettings(), seed=11, seconds=seconds, controls=controls)
    classes = np.array([n.pitch % 12 for p in sampled for i in p.midi.instruments for n in i.notes], dtype=np.int64)
    return {
        "notes_per_second": statistics.mean(p.notes / p.seconds for p in sampled),
        "in_c_major": float(C_MAJOR[classes].mean()) if classes.size else 0.0,
        "in_f_sharp_major": float(F_SHARP_MAJOR[classes].mean()) if classes.size else 0.0,
    }


def main() -> None:
    """Sample with and without each control and print what changed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default=None, help="a MIDI checkpoint trained with both controls")
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    model, codec, about = quickstart_model(
        args.ckpt, "--data.init_args.controls=[density, pitch_histogram]", name="bench-midi-controls"
    )
    if set(codec.controls) != {"density", "pitch_histogram"}:
        raise SystemExit(
            f"{args.ckpt} was not trained with both controls: train with "
            "--data.init_args.controls '[density, pitch_histogram]'"
        )
    results: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        results["none"] = measure(model, codec, None, args.pieces, args.seconds)
        for density in DENSITIES:
            vector = control_vector(codec.controls, notes_per_second=density)
            results[f"density {density:g}"] = measure(model, codec, vector, args.pieces, args.seconds)
        for name, scale in (("C major", C_MAJOR), ("F# major", F_SHARP_MAJOR)):
            vector = control_vector(codec.controls, pitch_class_histogram=scale.tolist())
            results[f"histogram {name}"] = measure(model, codec, vector, args.pieces, args.seconds)
    free = results["none"]
    lines = [
        f"MIDI controls, {args.pieces} pieces of {args.seconds:g} s each (model: {about})",
        "    asked                    notes/s   in C major   in F# major",
    ]
    lines += [
        f"    {name:<24} {r['notes_per_second']:7.1f}   {r['in_c_major']:10.2f}   {r['in_f_sharp_major']:11.2f}"
        for name, r in results.items()
    ]
    low, high = results[f"density {DENSITIES[0]:g}"], results[f"density {DENSITIES[-1]:g}"]
    lines.append(
        f"    density {DENSITIES[-1]:g} vs {DENSITIES[0]:g} notes/s asked: "
        f"{high['notes_per_second'] / low['notes_per_second']:.2f}x the notes per second"
    )
    lines.append(
        f"    C major asked: {results['histogram C major']['in_c_major'] / free['in_c_major']:.2f}x the share in "
        f"C major of no control; F# major asked: "
        f"{results['histogram F# major']['in_f_sharp_major'] / free['in_f_sharp_major']:.2f}x the share in F# major"
    )
    report("midi_controls", lines, results)


if __name__ == "__main__":
    main()
