"""Generated against real: sample from a checkpoint, compute each statistic on both sets, compare them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from studio.codecs.midi import load_midi
from studio.codecs.midi.statistics import STATISTICS, piece_statistics
from studio.codecs.text_statistics import text_statistics
from studio.errors import StudioError
from studio.evaluation.compare import Comparison, Value, compare
from studio.generation import Generator

MidiValues = dict[str, list[Value]]


def reference_midi_statistics(paths: Sequence[Path]) -> tuple[MidiValues, list[tuple[str, str]]]:
    """Every statistic of every readable reference piece, and the files skipped with the reason."""
    values: MidiValues = {name: [] for name in STATISTICS}
    skipped = []
    for path in paths:
        try:
            stats = piece_statistics(load_midi(path))
        except StudioError as error:
            skipped.append((str(path), str(error)[:100]))
            continue
        for name, value in stats.items():
            values[name].append(value)
    return values, skipped


def midi_against(
    generator: Generator, samples: int, seconds: float, reference: Sequence[Path], seed: int = 0
) -> tuple[dict[str, Comparison], MidiValues, MidiValues, list[tuple[str, str]]]:
    """Generate `samples` pieces and compare each statistic with the reference pieces'."""
    if samples < 2:
        raise StudioError(f"--samples {samples}: comparing sets needs at least 2 generated pieces")
    real, skipped = reference_midi_statistics(reference)
    if len(real["pitch_range"]) < 2:
        raise StudioError("--against needs at least 2 readable MIDI files to compare with")
    made: MidiValues = {name: [] for name in STATISTICS}
    for piece in generator.midi(seconds=seconds, num_samples=samples, seed=seed):
        for name, value in piece_statistics(piece.midi).items():
            made[name].append(value)
    return {name: compare(made[name], real[name]) for name in STATISTICS}, made, real, skipped


def text_against(
    generator: Generator, samples: int, length: int, reference: Sequence[Path], seed: int = 0
) -> tuple[dict[str, float], dict[str, float]]:
    """Statistics of `samples` generated texts against the reference text, and of the reference against itself.

    The reference's own figures (a slice of it as if it were generated) are the yardstick.
    """
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in reference)
    if len(text) < 2 * length:
        raise StudioError(f"--against holds {len(text)} characters, too little for samples of {length}")
    made = generator.text(length=length, num_samples=samples, seed=seed)
    # The reference is split in two: slices of one half measured against the other half. The slices
    # do not overlap where the half is long enough, since shared n-grams would lower distinct-n.
    half = len(text) // 2
    return text_statistics(made, text[half:]), text_statistics(
        reference_slices(text[:half], samples, length, seed), text[half:]
    )


def reference_slices(text: str, samples: int, length: int, seed: int = 0) -> list[str]:
    """`samples` slices of `length` characters at seeded places: disjoint blocks where the text has enough."""
    rng = np.random.default_rng(seed)
    blocks = len(text) // length
    if blocks >= samples:
        return [text[b * length : (b + 1) * length] for b in sorted(rng.choice(blocks, size=samples, replace=False))]
    starts = rng.integers(0, max(1, len(text) - length), size=samples)
    return [text[s : s + length] for s in starts]
