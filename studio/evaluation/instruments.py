"""The mgeval comparison per instrument: every piece statistic over one instrument's notes alone,
generated against the same instrument in the real pieces.

Pooled over all instruments, a band whose flute plays the cello's part and the cello the flute's looks
exactly like the real band; taken instrument by instrument it does not. Instruments are named as in
`studio.codecs.midi.statistics.instrument_statistics` (General MIDI names, tracks of one program taken
together); drums are left out, as they are from the pooled statistics (their pitches are a kit's pieces).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pretty_midi

from studio.codecs.midi.statistics import STATISTICS, Notes, instrument_name
from studio.evaluation.compare import Comparison, Value, compare
from studio.evaluation.report import table

# One piece's pitched instruments: name -> statistic -> value.
PartValues = dict[str, dict[str, Value]]
# mgeval's distances need two members on each side.
MIN_PIECES = 2


def part_statistics(pm: pretty_midi.PrettyMIDI) -> PartValues:
    """Every statistic of `STATISTICS` over each pitched instrument's notes alone, by instrument name."""
    parts: dict[str, Notes] = {}
    for instrument in pm.instruments:
        if not instrument.is_drum:
            parts.setdefault(instrument_name(instrument), []).extend(n for n in instrument.notes if n.end > n.start)
    statistics: PartValues = {}
    for name, notes in parts.items():
        if notes:
            ordered = sorted(notes, key=lambda n: (n.start, n.pitch))
            statistics[name] = {stat: statistic(ordered) for stat, statistic in STATISTICS.items()}
    return statistics


@dataclass(frozen=True)
class InstrumentComparison:
    """One instrument's statistics, generated against real, over the pieces it plays in on either side."""

    generated_pieces: int
    real_pieces: int
    comparisons: dict[str, Comparison]  # statistic -> comparison; empty when a side has too few pieces

    def as_dict(self) -> dict[str, Any]:
        """Plain data for evaluation.json."""
        return {
            "generated_pieces": self.generated_pieces,
            "real_pieces": self.real_pieces,
            "statistics": {name: c.as_dict() for name, c in self.comparisons.items()},
        }


def compare_instruments(made: Sequence[PartValues], real: Sequence[PartValues]) -> dict[str, InstrumentComparison]:
    """Each instrument that plays in both sets, compared statistic by statistic (instruments by name, in order).

    An instrument is measured only in the pieces it plays in; one in fewer than `MIN_PIECES` pieces on
    either side comes back with its counts and no comparisons.
    """
    found: dict[str, InstrumentComparison] = {}
    for name in sorted({n for piece in made for n in piece} & {n for piece in real for n in piece}):
        ours = [piece[name] for piece in made if name in piece]
        theirs = [piece[name] for piece in real if name in piece]
        comparisons: dict[str, Comparison] = {}
        if len(ours) >= MIN_PIECES and len(theirs) >= MIN_PIECES:
            comparisons = {stat: compare([p[stat] for p in ours], [p[stat] for p in theirs]) for stat in STATISTICS}
        found[name] = InstrumentComparison(len(ours), len(theirs), comparisons)
    return found


def instrument_comparison_text(found: dict[str, InstrumentComparison]) -> str:
    """The report's table of each instrument's statistics against real, and which instruments could not be compared."""
    rows = [
        [name, stat, c.generated_mean, c.reference_mean, c.overlap, c.kl_divergence, c.generated_overlap]
        for name, each in found.items()
        for stat, c in each.comparisons.items()
    ]
    header = ["instrument", "statistic (its notes alone)", "generated", "real", "overlap", "KL"]
    parts = [table(rows, [*header, "overlap (generated side)"])] if rows else []
    few = [
        f"{name} ({c.generated_pieces} generated, {c.real_pieces} real)"
        for name, c in found.items()
        if not c.comparisons
    ]
    if few:
        parts.append(f"not compared, in fewer than {MIN_PIECES} pieces on a side: " + ", ".join(few))
    if not found:
        parts.append("no instrument plays in both the generated and the real pieces: nothing compared per instrument")
    return "\n".join(parts)


def instrument_overlaps(found: dict[str, InstrumentComparison]) -> dict[str, dict[str, float]]:
    """Each compared instrument's overlap with the real pieces per statistic (the report's picture)."""
    return {
        name: {s: c.overlap for s, c in each.comparisons.items()} for name, each in found.items() if each.comparisons
    }
