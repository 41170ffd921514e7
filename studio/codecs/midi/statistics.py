"""Statistics of a MIDI piece, after Yang & Lerch's mgeval and MusPy, computed in numpy on pretty_midi notes.

Every function takes the notes of one piece (drums left out) and returns a number or an array, so
sets of pieces become distributions that `studio.evaluation.compare` can set side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import numpy as np
import pretty_midi

Notes = list[pretty_midi.Note]
Value = Union[float, np.ndarray]

MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
NATURAL_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Beats for the empty-beat rate when a piece says nothing of its tempo: 120 beats per minute.
DEFAULT_BEAT_SECONDS = 0.5


def pitched_notes(pm: pretty_midi.PrettyMIDI) -> Notes:
    """Every non-drum note of a score with a positive length, sorted by onset then pitch."""
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes if n.end > n.start]
    return sorted(notes, key=lambda n: (n.start, n.pitch))


def pitch_class_histogram(notes: Notes) -> np.ndarray:
    """Share of notes in each pitch class C, C#, ... B (zeros for an empty piece)."""
    counts = np.bincount([n.pitch % 12 for n in notes], minlength=12).astype(float)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_entropy(notes: Notes) -> float:
    """Entropy of the pitch-class histogram in bits: 0 for one pitch class, log2(12) for all alike."""
    p = pitch_class_histogram(notes)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0


def pitches_used(notes: Notes) -> float:
    """How many distinct pitches the piece plays."""
    return float(len({n.pitch for n in notes}))


def pitch_classes_used(notes: Notes) -> float:
    """How many distinct pitch classes the piece plays."""
    return float(len({n.pitch % 12 for n in notes}))


def pitch_range(notes: Notes) -> float:
    """Highest minus lowest pitch, in semitones."""
    return float(max(n.pitch for n in notes) - min(n.pitch for n in notes)) if notes else 0.0


def polyphony(notes: Notes) -> float:
    """Mean number of notes sounding together, over the time when at least one sounds (MusPy's definition)."""
    if not notes:
        return 0.0
    events = sorted([(n.start, 1) for n in notes] + [(n.end, -1) for n in notes], key=lambda e: (e[0], e[1]))
    sounding, last, weighted, covered = 0, events[0][0], 0.0, 0.0
    for time, change in events:
        if sounding > 0:
            weighted += sounding * (time - last)
            covered += time - last
        sounding, last = sounding + change, time
    return weighted / covered if covered else 0.0


def notes_per_second(notes: Notes) -> float:
    """Note onsets per second of music (from the first onset to the last note's end)."""
    if not notes:
        return 0.0
    span = max(n.end for n in notes) - notes[0].start
    return len(notes) / span if span > 0 else 0.0


def inter_onset_interval(notes: Notes) -> float:
    """Mean time between successive distinct onsets, in seconds."""
    onsets = np.unique(np.round([n.start for n in notes], 4))
    return float(np.diff(onsets).mean()) if onsets.size > 1 else 0.0


def note_length(notes: Notes) -> float:
    """Mean note duration, in seconds."""
    return float(np.mean([n.end - n.start for n in notes])) if notes else 0.0


def velocity(notes: Notes) -> float:
    """Mean MIDI velocity."""
    return float(np.mean([n.velocity for n in notes])) if notes else 0.0


def scale_consistency(notes: Notes) -> float:
    """Largest share of notes inside one major or natural-minor scale, over all 12 tonics (MusPy)."""
    if not notes:
        return 0.0
    classes = np.array([n.pitch % 12 for n in notes])
    best = 0.0
    for tonic in range(12):
        for scale in (MAJOR, NATURAL_MINOR):
            best = max(best, float(np.isin(classes, (scale + tonic) % 12).mean()))
    return best


def empty_beat_rate(notes: Notes, beat_seconds: float = DEFAULT_BEAT_SECONDS) -> float:
    """Share of beats, from the start to the last note's end, in which no note sounds (MusPy)."""
    if not notes:
        return 0.0
    end = max(n.end for n in notes)
    beats = max(1, int(np.ceil(end / beat_seconds - 1e-9)))
    busy = np.zeros(beats, dtype=bool)
    for n in notes:
        first = int(n.start // beat_seconds)
        last = min(beats - 1, int(np.ceil(n.end / beat_seconds - 1e-9)) - 1)
        busy[first : last + 1] = True
    return float(1.0 - busy.mean())


def pitch_class_transitions(notes: Notes) -> np.ndarray:
    """12x12 shares of moves from one pitch class to the next between successive notes (flattened to 144)."""
    matrix = np.zeros((12, 12))
    for before, after in zip(notes, notes[1:]):
        matrix[before.pitch % 12, after.pitch % 12] += 1
    total = matrix.sum()
    return (matrix / total if total else matrix).reshape(-1)


# name -> the statistic; the order is the report's.
STATISTICS: dict[str, Callable[[Notes], Value]] = {
    "pitch_class_histogram": pitch_class_histogram,
    "pitch_class_entropy": pitch_class_entropy,
    "pitches_used": pitches_used,
    "pitch_classes_used": pitch_classes_used,
    "pitch_range": pitch_range,
    "polyphony": polyphony,
    "notes_per_second": notes_per_second,
    "inter_onset_interval": inter_onset_interval,
    "note_length": note_length,
    "velocity": velocity,
    "scale_consistency": scale_consistency,
    "empty_beat_rate": empty_beat_rate,
    "pitch_class_transitions": pitch_class_transitions,
}


def piece_statistics(pm: pretty_midi.PrettyMIDI) -> dict[str, Value]:
    """Every statistic of one piece."""
    notes = pitched_notes(pm)
    return {name: statistic(notes) for name, statistic in STATISTICS.items()}


def lowest_pitch(notes: Notes) -> float:
    """The lowest MIDI pitch played (0.0 for no notes)."""
    return float(min(n.pitch for n in notes)) if notes else 0.0


def highest_pitch(notes: Notes) -> float:
    """The highest MIDI pitch played (0.0 for no notes)."""
    return float(max(n.pitch for n in notes)) if notes else 0.0


# Each instrument's part of a multi-track piece: name -> the statistic; the order is the report's.
INSTRUMENT_STATISTICS: dict[str, Callable[[Notes], float]] = {
    "notes": lambda notes: float(len(notes)),
    "lowest_pitch": lowest_pitch,
    "highest_pitch": highest_pitch,
    "pitch_range": pitch_range,
    "polyphony": polyphony,
    "notes_per_second": notes_per_second,
}


def instrument_name(instrument: pretty_midi.Instrument) -> str:
    """A part's name: its General MIDI instrument (Flute, French Horn, ...), or Drums."""
    return "Drums" if instrument.is_drum else str(pretty_midi.program_to_instrument_name(int(instrument.program)))


def instrument_statistics(pm: pretty_midi.PrettyMIDI) -> dict[str, dict[str, float]]:
    """Each instrument's statistics in one piece, by instrument name (tracks of one instrument taken together).

    Drums count as an instrument here (their pitches are the kit's pieces); instruments without notes are left out.
    """
    parts: dict[str, Notes] = {}
    for instrument in pm.instruments:
        parts.setdefault(instrument_name(instrument), []).extend(n for n in instrument.notes if n.end > n.start)
    return {
        name: {
            stat: statistic(sorted(notes, key=lambda n: (n.start, n.pitch)))
            for stat, statistic in INSTRUMENT_STATISTICS.items()
        }
        for name, notes in parts.items()
        if notes
    }


def instrument_summary(pieces: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per instrument over a set of pieces (each as `instrument_statistics` gives it): the share of pieces
    it plays in (`share_of_pieces`), and each statistic's mean over those pieces. Instruments by name, in order."""
    names = sorted({name for piece in pieces for name in piece})
    summary: dict[str, dict[str, float]] = {}
    for name in names:
        playing = [piece[name] for piece in pieces if name in piece]
        summary[name] = {"share_of_pieces": len(playing) / len(pieces)}
        summary[name] |= {stat: float(np.mean([p[stat] for p in playing])) for stat in INSTRUMENT_STATISTICS}
    return summary
