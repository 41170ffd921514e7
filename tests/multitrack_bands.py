"""Multi-instrument pieces for the tests: parts with programs, drums, notes and pedal as a PrettyMIDI."""

from __future__ import annotations

import pretty_midi


def band(parts) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI of parts (program, is_drum, [(pitch, start, end, velocity)], pedal [(time, value)])."""
    pm = pretty_midi.PrettyMIDI()
    for program, is_drum, notes, pedal in parts:
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
        instrument.notes = [pretty_midi.Note(v, p, s, e) for p, s, e, v in notes]
        instrument.control_changes = [pretty_midi.ControlChange(64, value, t) for t, value in pedal]
        pm.instruments.append(instrument)
    return pm
