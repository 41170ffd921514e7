"""General MIDI programs: the 16 families and their representatives, and each part's program read from a file.

The Score of `score.py` has no programs; `read_program_score` gives the same Score with each part a
`ProgramPart`. Files go through the fast reader of `file.py` (its parsing and instruments, unchanged) plus
one pass that names each instrument's program in the order that reader makes them; what the fast reader
hands back goes through pretty_midi. Either way a note belongs to the program in force on its channel
when the note ends (pretty_midi's rule), so a file and its PrettyMIDI give the same parts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pretty_midi

from studio.codecs.midi import file as fast
from studio.codecs.midi.codec import midi_bytes, parse_midi
from studio.codecs.midi.score import Part, Score, score_from_pretty_midi

FAMILIES = pretty_midi.INSTRUMENT_CLASSES  # the 16 families of 8 programs: Piano, Chromatic Percussion, ...
# The program each family is played with once folded: a common member (e.g. Flute, not Piccolo, for Pipe).
REPRESENTATIVES = (0, 11, 16, 25, 33, 40, 48, 56, 65, 73, 80, 88, 96, 104, 112, 120)


@dataclass(frozen=True)
class ProgramPart(Part):
    """A Part with its General MIDI program (0..127; a drum part's program is kept but not used)."""

    program: int = 0


def part_program(part: Part) -> int:
    """The program of a part: its own for a ProgramPart, 0 (piano) for a plain Part."""
    return part.program if isinstance(part, ProgramPart) else 0


def program_score(pm: pretty_midi.PrettyMIDI) -> Score:
    """The Score of a PrettyMIDI object, each part with its instrument's program."""
    plain = score_from_pretty_midi(pm)
    parts: list[Part] = [
        ProgramPart(part.is_drum, part.notes, part.sustain, int(instrument.program))
        for part, instrument in zip(plain.parts, pm.instruments)
    ]
    return Score(parts, plain.end_time)


def read_program_score(path: str | os.PathLike[str]) -> Score:
    """The program-aware Score of a MIDI file; StudioError naming the file and the fix if it cannot be read."""
    data = midi_bytes(path)
    score = _fast_program_score(data)
    return score if score is not None else program_score(parse_midi(data, path))


def _fast_program_score(data: bytes) -> Score | None:
    """file.read_score's Score with programs, or None where only pretty_midi can tell."""
    try:
        tracks, resolution = _tracks(data)
        score = fast._score(tracks, fast._tempo_map(tracks[0], resolution))
    except (fast._Unsupported, IndexError):
        return None
    programs = _instrument_programs(tracks)
    parts: list[Part] = [
        ProgramPart(part.is_drum, part.notes, part.sustain, program) for part, program in zip(score.parts, programs)
    ]
    return Score(parts, score.end_time)


def _tracks(data: bytes) -> tuple[list[list[fast.Event]], int]:
    """The parsed tracks and ticks per beat, with file._read's checks."""
    if data[:4] != b"MThd":
        raise fast._Unsupported
    header_size = int.from_bytes(data[4:8], "big")
    ntracks = int.from_bytes(data[10:12], "big", signed=True)
    resolution = int.from_bytes(data[12:14], "big", signed=True)
    if header_size < 6 or ntracks <= 0 or resolution <= 0:
        raise fast._Unsupported
    position = 8 + header_size
    tracks = []
    for _ in range(ntracks):
        events, position = fast._read_track(data, position)
        if not events:
            raise fast._Unsupported
        tracks.append(events)
    if max(events[-1][0] for events in tracks) + 1 > fast._MAX_TICK:
        raise fast._Unsupported
    return tracks, resolution


def _instrument_programs(tracks: list[list[fast.Event]]) -> list[int]:
    """Each instrument's program, in the order file._score makes them: when a note first closes on a
    (program, channel, track), with the program in force on that channel at that moment."""
    made: dict[tuple[int, int, int], int] = {}
    for index, events in enumerate(tracks):
        program = [0] * 16
        open_notes: dict[tuple[int, int], list[int]] = {}  # (channel, pitch) -> start ticks
        for tick, status, values in events:
            if status >= 0xF0:
                continue
            kind, channel = status >> 4, status & 0x0F
            if kind == 0xC:
                program[channel] = values[0]
            elif kind == 0x9 and values[1] > 0:
                open_notes.setdefault((channel, values[0]), []).append(tick)
            elif kind == 0x8 or kind == 0x9:
                key = (channel, values[0])
                pending = open_notes.get(key)
                if pending is None:
                    continue
                keep = [start for start in pending if start == tick]
                if len(keep) < len(pending):
                    made.setdefault((program[channel], channel, index), program[channel])
                if keep and len(keep) < len(pending):
                    open_notes[key] = keep
                else:
                    del open_notes[key]
    return list(made.values())
