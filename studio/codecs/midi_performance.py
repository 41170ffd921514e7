"""Turn a PrettyMIDI score into one flat piano performance: merged, pedal-applied, quantized notes."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import pretty_midi

SUSTAIN_CC = 64
PEDAL_DOWN = 64  # MIDI convention: CC64 values >= 64 mean the pedal is down


@dataclass(frozen=True, order=True)
class StepNote:
    """A note on the codec's time grid: start/end in steps, end > start."""

    start: int
    end: int
    pitch: int
    velocity: int


def pedal_intervals(instrument: pretty_midi.Instrument, song_end: float) -> list[tuple[float, float]]:
    """Return the (down, up) times of the sustain pedal; a pedal never released lasts to song_end."""
    changes = sorted((cc.time, cc.value) for cc in instrument.control_changes if cc.number == SUSTAIN_CC)
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for time, value in changes:
        if value >= PEDAL_DOWN and down_at is None:
            down_at = time
        elif value < PEDAL_DOWN and down_at is not None:
            intervals.append((down_at, time))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(song_end, down_at)))
    return intervals


def sustained_notes(instrument: pretty_midi.Instrument, song_end: float) -> list[pretty_midi.Note]:
    """Return the instrument's notes with ends held by the sustain pedal until release or re-strike."""
    intervals = pedal_intervals(instrument, song_end)
    notes = sorted(instrument.notes, key=lambda n: (n.start, n.pitch))
    if not intervals:
        return [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in notes]
    downs = [d for d, _ in intervals]
    onsets: dict[int, list[float]] = {}
    for note in notes:
        onsets.setdefault(note.pitch, []).append(note.start)
    result = []
    for note in notes:
        end = note.end
        k = bisect.bisect_right(downs, end) - 1
        # A note released while the pedal is down keeps sounding until the pedal comes up...
        if k >= 0 and intervals[k][0] <= end < intervals[k][1]:
            held = intervals[k][1]
            same = onsets[note.pitch]
            j = bisect.bisect_right(same, note.start)
            # ...unless the same key is struck again first, which damps the old string.
            if j < len(same):
                held = min(held, same[j])
            end = max(end, held)
        result.append(pretty_midi.Note(note.velocity, note.pitch, note.start, end))
    return result


def performance_notes(pm: pretty_midi.PrettyMIDI, keep_drums: bool = False) -> list[pretty_midi.Note]:
    """Merge all (non-drum unless keep_drums) instruments into one list of pedal-applied notes in seconds."""
    song_end = pm.get_end_time()
    notes: list[pretty_midi.Note] = []
    for instrument in pm.instruments:
        if instrument.is_drum and not keep_drums:
            continue
        notes.extend(sustained_notes(instrument, song_end))
    notes.sort(key=lambda n: (n.start, n.pitch, n.end))
    return notes


def quantize_notes(notes: list[pretty_midi.Note], step_seconds: float) -> list[StepNote]:
    """Snap notes to the step grid and resolve same-pitch overlaps so each pitch is a clean on/off sequence."""
    by_pitch: dict[int, list[StepNote]] = {}
    for note in notes:
        if not 0 <= note.pitch <= 127:
            continue
        start = max(0, round(note.start / step_seconds))
        end = max(start + 1, round(note.end / step_seconds))
        velocity = min(127, max(1, int(note.velocity)))
        by_pitch.setdefault(note.pitch, []).append(StepNote(start, end, note.pitch, velocity))
    result: list[StepNote] = []
    for pitch_notes in by_pitch.values():
        pitch_notes.sort(key=lambda n: (n.start, -n.end))
        current = pitch_notes[0]
        for nxt in pitch_notes[1:]:
            if nxt.start == current.start:
                # Unisons (e.g. two merged instruments) collapse into the longer, already-kept note.
                current = StepNote(current.start, max(current.end, nxt.end), current.pitch, current.velocity)
                continue
            if nxt.start < current.end:
                # One key cannot sound twice: the new strike ends the old note.
                current = StepNote(current.start, nxt.start, current.pitch, current.velocity)
            result.append(current)
            current = nxt
        result.append(current)
    result.sort()
    return result
