"""Turn a Score into one flat piano performance: merged, pedal-applied, quantized notes."""

from __future__ import annotations

import bisect
from typing import NamedTuple

from studio.codecs.midi.score import Note, Part, Score

PEDAL_DOWN = 64  # MIDI convention: CC64 values >= 64 mean the pedal is down


class StepNote(NamedTuple):
    """A note on the codec's time grid: start/end in steps, end > start (ordered by start, end, pitch, velocity)."""

    start: int
    end: int
    pitch: int
    velocity: int


def pedal_intervals(sustain: list[tuple[float, int]], song_end: float) -> list[tuple[float, float]]:
    """Return the (down, up) times of the sustain pedal; a pedal never released lasts to song_end."""
    intervals: list[tuple[float, float]] = []
    down_at: float | None = None
    for time, value in sorted(sustain):
        if value >= PEDAL_DOWN and down_at is None:
            down_at = time
        elif value < PEDAL_DOWN and down_at is not None:
            intervals.append((down_at, time))
            down_at = None
    if down_at is not None:
        intervals.append((down_at, max(song_end, down_at)))
    return intervals


def sustained_notes(part: Part, song_end: float) -> list[Note]:
    """Return the part's notes with ends held by the sustain pedal until release or re-strike."""
    intervals = pedal_intervals(part.sustain, song_end)
    notes = sorted(part.notes, key=lambda n: (n[0], n[2]))
    if not intervals:
        return notes
    downs = [d for d, _ in intervals]
    onsets: dict[int, list[float]] = {}
    for note in notes:
        onsets.setdefault(note[2], []).append(note[0])
    result = []
    for start, end, pitch, velocity in notes:
        k = bisect.bisect_right(downs, end) - 1
        # A note released while the pedal is down keeps sounding until the pedal comes up...
        if k >= 0 and intervals[k][0] <= end < intervals[k][1]:
            held = intervals[k][1]
            same = onsets[pitch]
            j = bisect.bisect_right(same, start)
            # ...unless the same key is struck again first, which damps the old string.
            if j < len(same):
                held = min(held, same[j])
            end = max(end, held)
        result.append((start, end, pitch, velocity))
    return result


def performance_notes(score: Score, keep_drums: bool = False) -> list[Note]:
    """Merge all (non-drum unless keep_drums) parts into one list of pedal-applied notes in seconds."""
    notes: list[Note] = []
    for part in score.parts:
        if part.is_drum and not keep_drums:
            continue
        notes.extend(sustained_notes(part, score.end_time))
    notes.sort(key=lambda n: (n[0], n[2], n[1]))
    return notes


def _start_then_longest(note: StepNote) -> tuple[int, int]:
    return note[0], -note[1]


def quantize_notes(notes: list[Note], step_seconds: float) -> list[StepNote]:
    """Snap notes to the step grid and resolve same-pitch overlaps so each pitch is a clean on/off sequence."""
    by_pitch: dict[int, list[StepNote]] = {}
    for note_start, note_end, pitch, note_velocity in notes:
        if not 0 <= pitch <= 127:
            continue
        start = max(0, round(note_start / step_seconds))
        end = max(start + 1, round(note_end / step_seconds))
        velocity = min(127, max(1, int(note_velocity)))
        by_pitch.setdefault(pitch, []).append(StepNote(start, end, pitch, velocity))
    result: list[StepNote] = []
    for pitch_notes in by_pitch.values():
        pitch_notes.sort(key=_start_then_longest)
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
