"""Generated against real: sample from a checkpoint, compute each statistic on both sets, compare them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np
import pretty_midi

from studio.codecs.midi import load_midi
from studio.codecs.midi.statistics import STATISTICS, instrument_statistics, instrument_summary, piece_statistics
from studio.codecs.text_statistics import AGAINST_REFERENCE, Reference, text_statistics
from studio.errors import StudioError
from studio.evaluation.compare import Comparison, Value, compare
from studio.evaluation.instruments import InstrumentComparison, PartValues, compare_instruments, part_statistics
from studio.generation import Generator
from studio.generation.decoding import Progress
from studio.generation.text import DEFAULT_PROMPT
from studio.resources import check_memory

MidiValues = dict[str, list[Value]]
# Each piece's instruments with their statistics (see studio.codecs.midi.statistics.instrument_statistics).
InstrumentValues = list[dict[str, dict[str, float]]]
# Text statistics read at most this much of the reference: plenty for n-gram and word statistics, and
# the words and n-grams of a larger corpus would not fit in memory as Python objects.
REFERENCE_CHARACTERS = 8_000_000
# MIDI statistics compare with at most this many reference pieces, chosen evenly at random from a larger
# collection: the distances between every pair grow with the square of the count.
REFERENCE_PIECES = 1000
# What measuring one generated text takes, with the two reference slices measured beside it: the texts, and
# the words and n-grams the statistics list (about 35 bytes a character, measured).
TEXT_BYTES = 1000
TEXT_BYTES_PER_TOKEN = 160


def reference_midi_statistics(
    paths: Sequence[Path],
    seed: int = 0,
    limit: int = REFERENCE_PIECES,
    instruments: Optional[InstrumentValues] = None,
    parts: Optional[list[PartValues]] = None,
) -> tuple[MidiValues, list[tuple[str, str]]]:
    """Every statistic of every readable reference piece (a seeded choice of `limit` of a larger
    collection), and the files skipped with the reason. Each piece's per-instrument statistics are
    appended to `instruments`, and its statistics per instrument (`part_statistics`) to `parts`, when given."""
    if len(paths) > limit:
        chosen = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
        paths = [paths[i] for i in sorted(chosen)]
    values: MidiValues = {name: [] for name in STATISTICS}
    skipped = []
    for path in paths:
        try:
            midi = load_midi(path)
            stats = piece_statistics(midi)
        except StudioError as error:
            skipped.append((str(path), str(error)[:100]))
            continue
        if instruments is not None:
            instruments.append(instrument_statistics(midi))
        if parts is not None:
            parts.append(part_statistics(midi))
        for name, value in stats.items():
            values[name].append(value)
    return values, skipped


class MidiAgainst(NamedTuple):
    """Generated pieces against real ones: each statistic compared, the values on either side, the
    reference files skipped, each instrument's statistics on either side (see `instrument_summary`),
    and each instrument's notes alone compared statistic by statistic (empty unless asked for)."""

    comparisons: dict[str, Comparison]
    made: MidiValues
    real: MidiValues
    skipped: list[tuple[str, str]]
    instruments: dict[str, dict[str, dict[str, float]]]  # "generated" / "real" -> instrument -> statistic
    by_instrument: dict[str, InstrumentComparison]  # instrument -> its statistics compared


def midi_against(
    generator: Generator,
    samples: int,
    seconds: float,
    reference: Sequence[Path],
    seed: int = 0,
    temperature: float = 1.0,
    progress: Optional[Progress] = None,
    per_instrument: bool = False,
) -> MidiAgainst:
    """Generate `samples` pieces (at `temperature`) and compare each statistic with the reference pieces'.

    The statistics take every instrument's notes together, so solo and multi-track pieces compare alike;
    each instrument's own statistics (notes, pitch range, polyphony, ...) come beside them, and with
    `per_instrument` each instrument's notes alone are compared too (see `pieces_against`).
    """
    if samples < 2:
        raise StudioError(f"--samples {samples}: comparing sets needs at least 2 generated pieces")

    def generated() -> Iterator[pretty_midi.PrettyMIDI]:  # sampled only once the reference has been read
        pieces = generator.midi(
            seconds=seconds, num_samples=samples, seed=seed, temperature=temperature, progress=progress
        )
        yield from (piece.midi for piece in pieces)

    return pieces_against(generated(), reference, seed, per_instrument)


def pieces_against(
    pieces: Iterable[pretty_midi.PrettyMIDI], reference: Sequence[Path], seed: int = 0, per_instrument: bool = False
) -> MidiAgainst:
    """Generated `pieces` (scores) against the reference files, statistic by statistic (see `midi_against`).

    The reference is read first, so an unusable one stops before `pieces` (say, lazily sampled) is drawn.

    With `per_instrument`, every statistic is measured again over each instrument's notes alone and each
    instrument that plays in both sets is compared with itself in the real pieces (`compare_instruments`).
    """
    real_parts: InstrumentValues = []
    real_alone: Optional[list[PartValues]] = [] if per_instrument else None
    real, skipped = reference_midi_statistics(reference, seed, instruments=real_parts, parts=real_alone)
    if len(real["pitch_range"]) < 2:
        raise StudioError("--against needs at least 2 readable MIDI files to compare with")
    made: MidiValues = {name: [] for name in STATISTICS}
    made_parts: InstrumentValues = []
    made_alone: list[PartValues] = []
    for piece in pieces:
        for name, value in piece_statistics(piece).items():
            made[name].append(value)
        made_parts.append(instrument_statistics(piece))
        if per_instrument:
            made_alone.append(part_statistics(piece))
    comparisons = {name: compare(made[name], real[name]) for name in STATISTICS}
    instruments = {"generated": instrument_summary(made_parts), "real": instrument_summary(real_parts)}
    by_instrument = compare_instruments(made_alone, real_alone) if real_alone is not None else {}
    return MidiAgainst(comparisons, made, real, skipped, instruments, by_instrument)


@dataclass(frozen=True)
class TextComparison:
    """Statistics of generated texts, measured in rounds, beside the reference's own figures."""

    per_round: list[dict[str, float]]  # every statistic, one round of generated texts at a time
    reference: dict[str, float]  # the reference's own figures: the yardstick

    @property
    def rounds(self) -> int:
        """How many rounds of texts were measured."""
        return len(self.per_round)

    @cached_property
    def generated(self) -> dict[str, float]:
        """Each statistic's mean over the rounds."""
        return {name: float(np.mean([round_[name] for round_ in self.per_round])) for name in self.reference}

    @cached_property
    def spread(self) -> dict[str, float]:
        """Each statistic's standard deviation over the rounds (0.0 for one round)."""
        return {name: float(np.std([round_[name] for round_ in self.per_round])) for name in self.reference}


def round_seed(seed: int, round_index: int) -> int:
    """The sampling seed of one round: `seed` itself for the first, so one round gives what one call gives."""
    return seed if round_index == 0 else int(np.random.SeedSequence([seed, round_index]).generate_state(1)[0])


def text_against(
    generator: Generator,
    samples: int,
    length: int,
    reference: Sequence[Path],
    seed: int = 0,
    temperature: float = 1.0,
    progress: Optional[Progress] = None,
    rounds: int = 1,
) -> TextComparison:
    """Statistics of `samples` generated texts (at `temperature`) against the reference text, and of the
    reference against itself.

    The reference's own figures (slices of it as many and as long as the generated texts, measured as
    if generated) are the yardstick: distinct-n and mean line length depend on how much text is
    measured and where it is cut, so both sides are measured on the same amounts. With `rounds` above
    one, the generated side is measured that many times, each time on `samples` fresh texts, and each
    statistic is the mean over the rounds: the same amount of text per measurement, less sampling noise.
    """
    if rounds < 1:
        raise StudioError(f"--rounds {rounds} must be at least 1")
    # Each round's texts, and the reference slices measured beside them, are held with their statistics.
    check_memory(
        f"--samples {samples} texts of {length} tokens (and as many reference slices)",
        samples * (TEXT_BYTES + TEXT_BYTES_PER_TOKEN * length),
        "ask for fewer --samples (or a shorter --length), and more --rounds for less noise",
    )
    text = reference_text(reference)
    if len(text) < 2 * length:
        raise StudioError(f"--against holds {len(text)} characters, too little for samples of {length}")
    # Statistics of a text on its own (repetition, lengths) come from slices of the whole reference,
    # disjoint where it is long enough, since shared n-grams would lower distinct-n. Statistics measured
    # against the reference (known words, n-gram divergence) would flatter slices of the text they are
    # measured against, so there the reference is split in two: slices of one half against the other.
    half = len(text) // 2
    other_half = Reference.of(text[half:])
    # A generated text is the default prompt (a line break) and `length` characters: slices are cut alike.
    sliced = len(DEFAULT_PROMPT) + length
    yardstick = text_statistics(reference_slices(text, samples, sliced, seed, DEFAULT_PROMPT), other_half)
    crossed = text_statistics(reference_slices(text[:half], samples, sliced, seed, DEFAULT_PROMPT), other_half)
    yardstick.update({name: crossed[name] for name in AGAINST_REFERENCE})
    measured = []
    for index in range(rounds):
        made = generator.text(
            length=length,
            num_samples=samples,
            seed=round_seed(seed, index),
            temperature=temperature,
            progress=_round_progress(progress, index, rounds, index * samples * length),
        )
        measured.append(text_statistics(made, other_half))
    return TextComparison(measured, yardstick)


def _round_progress(progress: Optional[Progress], index: int, rounds: int, tokens_before: int) -> Optional[Progress]:
    """One round's progress, told as a share of all the rounds."""
    if progress is None:
        return None
    return lambda fraction, tokens: progress((index + fraction) / rounds, tokens_before + tokens)


def reference_text(paths: Sequence[Path], limit: int = REFERENCE_CHARACTERS) -> str:
    """The reference files joined by line breaks, up to `limit` characters (memory stays bounded)."""
    parts: list[str] = []
    left = limit
    for path in paths:
        if left <= 0:
            break
        with open(path, encoding="utf-8", errors="replace") as handle:
            parts.append(handle.read(left))
        left -= len(parts[-1]) + 1
    return "\n".join(parts)[:limit]


def reference_slices(text: str, samples: int, length: int, seed: int = 0, opening: str = "") -> list[str]:
    """`samples` slices of `length` characters at seeded places, disjoint where the text has enough.

    With an `opening` (a generated text's prompt, such as its line break), every slice begins with it
    where the text has it, so statistics that depend on where a text is cut (line lengths) see the
    reference cut as the generated texts are.
    """
    rng = np.random.default_rng(seed)
    places, disjoint = _starts(text, length, opening)
    last = len(text) - length
    if len(disjoint) >= samples:
        chosen = np.sort(rng.choice(disjoint, size=samples, replace=False))
    elif places is not None:
        chosen = rng.choice(places, size=samples)
    else:
        chosen = rng.integers(0, max(1, last + 1), size=samples)
    return [text[s : s + length] for s in chosen.tolist()]


def disjoint_slices(text: str, length: int, opening: str = "") -> int:
    """How many disjoint slices of `length` characters (each beginning with `opening`, where given) `text` holds."""
    return len(_starts(text, length, opening)[1])


def _starts(text: str, length: int, opening: str) -> tuple[Optional[np.ndarray], np.ndarray]:
    """Where slices may start (None: anywhere), and the starts of disjoint slices taken from the first."""
    last = len(text) - length
    places = _places(text, opening, last) if opening else None
    if places is None or len(places) == 0:  # any place: blocks end to end
        return None, np.arange(0, last + 1, length)
    return places, _disjoint(places, length)


def _places(text: str, opening: str, last: int) -> np.ndarray:
    """Positions at which `opening` occurs and a slice could start (at most `last`)."""
    found = np.fromiter((m.start() for m in re.finditer(re.escape(opening), text)), dtype=np.int64)
    return found[found <= last]


def _disjoint(starts: np.ndarray, length: int) -> np.ndarray:
    """The sorted `starts` taken greedily from the first, each at least `length` after the one before."""
    taken: list[int] = []
    index = 0
    while index < len(starts):
        taken.append(int(starts[index]))
        index = int(np.searchsorted(starts, taken[-1] + length))
    return np.asarray(taken, dtype=np.int64)
