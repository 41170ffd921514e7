"""Score: what the MIDI codec reads from a file (notes, sustain pedal and end time per instrument).

Two sources give the same Score: a PrettyMIDI object (`score_from_pretty_midi`) and the fast reader in
`midi_file.py`, which parses the bytes directly with pretty_midi's rules and is several times quicker.
"""

from __future__ import annotations

from dataclasses import dataclass

import pretty_midi

SUSTAIN_CC = 64

# A note in seconds: (start, end, pitch, velocity).
Note = tuple[float, float, int, int]


@dataclass(frozen=True)
class Part:
    """One instrument: drum or not, its notes (in the order they ended), and its sustain-pedal (time, value) changes."""

    is_drum: bool
    notes: list[Note]
    sustain: list[tuple[float, int]]


@dataclass(frozen=True)
class Score:
    """The instruments of a MIDI file in pretty_midi's order, and the time of its last event (PrettyMIDI.get_end_time)."""

    parts: list[Part]
    end_time: float


def score_from_pretty_midi(pm: pretty_midi.PrettyMIDI) -> Score:
    """The Score of a PrettyMIDI object."""
    parts = [
        Part(
            instrument.is_drum,
            [(n.start, n.end, n.pitch, n.velocity) for n in instrument.notes],
            [(cc.time, cc.value) for cc in instrument.control_changes if cc.number == SUSTAIN_CC],
        )
        for instrument in pm.instruments
    ]
    return Score(parts, pm.get_end_time())
