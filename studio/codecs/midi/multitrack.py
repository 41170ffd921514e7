"""MultitrackCodec: event ids for multi-instrument music, MidiCodec's events with PROGRAM and DRUMS tokens.

A PROGRAM(p) or DRUMS token makes an instrument current; the NOTE_ON/NOTE_OFF events after it are that
instrument's, until the next one. TIME_SHIFT and VELOCITY are MidiCodec's and shared by all instruments
(VELOCITY stays in force across instrument changes). Before the first instrument token the notes are
program 0's, so a solo piano piece gets exactly MidiCodec's ids. Instruments are identified by program:
parts with one program (after folding) share one instrument, pedal applied per part, then quantised
together (a re-strike ends the sounding note, unisons merge); parts of different programs never interact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pretty_midi

from studio.codecs.midi.codec import MidiCodec
from studio.codecs.midi.events import EventIds, EventLayout, events_to_notes
from studio.codecs.midi.multitrack_events import events_to_streams, slots_to_events
from studio.codecs.midi.performance import StepNote, quantize_notes, sustained_notes
from studio.codecs.midi.programs import REPRESENTATIVES, part_program, program_score, read_program_score
from studio.codecs.midi.score import Note, Score
from studio.errors import StudioError

_CONFIG_KEYS = ("resolution_ms", "max_shift_ms", "velocity_bins", "programs", "max_tracks")
PROGRAM_MODES = {"all": 128, "family": 16}  # how many program tokens each mode has (DRUMS comes on top)


class TooManyInstruments(StudioError):
    """A piece with more instruments than a codec's max_tracks; `count` and `max_tracks` say by how much."""

    def __init__(self, message: str, count: int, max_tracks: int) -> None:
        super().__init__(message)
        self.count, self.max_tracks = count, max_tracks

    def __reduce__(self) -> tuple[type, tuple[str, int, int]]:  # picklable across a process pool
        return (type(self), (str(self), self.count, self.max_tracks))


class Track(NamedTuple):
    """An instrument of the codec: its General MIDI program (0 for drums) and whether it is the drum kit."""

    program: int
    is_drum: bool


@dataclass(frozen=True)
class MultitrackCodec(EventIds):
    """Multi-instrument music <-> event ids: MidiCodec's events plus PROGRAM x128 (or x16 families) and DRUMS.

    programs: "all" keeps the 128 programs (520 ids by default); "family" folds them into the 16 General
    MIDI families, each played by a representative program (408 ids). max_tracks: the most instruments a
    piece may have after folding; a piece with more is refused.
    """

    resolution_ms: int = 10
    max_shift_ms: int = 1000
    velocity_bins: int = 32
    programs: str = "all"
    max_tracks: int = 16
    layout: EventLayout = field(init=False, repr=False, compare=False)
    _base: MidiCodec = field(init=False, repr=False, compare=False)

    kind: ClassVar[str] = "midi_multitrack"

    def __post_init__(self) -> None:
        try:
            base = MidiCodec(self.resolution_ms, self.max_shift_ms, self.velocity_bins)
        except StudioError as error:
            raise StudioError(str(error).replace("MidiCodec", "MultitrackCodec")) from None
        if self.programs not in PROGRAM_MODES:
            raise StudioError(f"MultitrackCodec programs={self.programs!r} is invalid: use 'all' or 'family'")
        if isinstance(self.max_tracks, bool) or not isinstance(self.max_tracks, int) or self.max_tracks < 1:
            raise StudioError(f"MultitrackCodec max_tracks={self.max_tracks!r} is invalid: use a positive whole number")
        object.__setattr__(self, "_base", base)
        object.__setattr__(self, "layout", base.layout)

    # --- common codec interface -------------------------------------------------------------

    @property
    def program_offset(self) -> int:
        """First instrument id: PROGRAM slots 0..n-1 (programs, or families), then DRUMS."""
        return self.layout.vocab_size

    @property
    def drum_slot(self) -> int:
        """The slot of DRUMS (the number of program slots)."""
        return PROGRAM_MODES[self.programs]

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.program_offset + self.drum_slot + 1

    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (safe for torch.load(weights_only=True))."""
        return {"kind": self.kind, **{key: getattr(self, key) for key in _CONFIG_KEYS}}

    def events_dict(self) -> dict[str, Any]:
        """The settings that decide the event ids (all of them: this codec has no controls)."""
        return self.to_dict()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MultitrackCodec:
        """Rebuild a codec from to_dict() output."""
        if d.get("kind", cls.kind) != cls.kind:
            raise StudioError(f"codec kind {d.get('kind')!r} is not {cls.kind!r}: load it with the matching codec")
        unknown = set(d) - set(_CONFIG_KEYS) - {"kind"}
        if unknown:
            raise StudioError(f"unknown MultitrackCodec settings {sorted(unknown)}: remove them or update Studio")
        return cls(**{key: d[key] for key in _CONFIG_KEYS if key in d})

    # --- instruments ------------------------------------------------------------------------

    def slot(self, program: int, is_drum: bool = False) -> int:
        """The instrument slot of a program (folded into its family with programs="family"), or DRUMS."""
        if is_drum:
            return self.drum_slot
        return program // 8 if self.programs == "family" else program

    def track(self, slot: int) -> Track:
        """The instrument a slot decodes to: its program (a family's representative), or the drum kit."""
        if slot == self.drum_slot:
            return Track(0, True)
        return Track(REPRESENTATIVES[slot] if self.programs == "family" else slot, False)

    def instrument_id(self, program: int, is_drum: bool = False) -> int:
        """Id of the PROGRAM (or DRUMS) token of an instrument."""
        return self.program_offset + self.slot(program, is_drum)

    # --- encode / decode --------------------------------------------------------------------

    def performance(self, pm: pretty_midi.PrettyMIDI | Score) -> dict[Track, list[StepNote]]:
        """The notes encode() sees, per instrument (in id order): pedal applied per part, quantised to steps."""
        return {self.track(slot): notes for slot, notes in self._slots(pm).items()}

    def encode(self, pm: pretty_midi.PrettyMIDI | Score, add_bos_eos: bool = False) -> list[int]:
        """Encode a PrettyMIDI or Score (a plain Part is program 0) as event ids (optionally in BOS ... EOS)."""
        ids = slots_to_events(self._slots(pm), self.layout, self.program_offset)
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def encode_file(self, path: str | os.PathLike[str], add_bos_eos: bool = False) -> list[int]:
        """Read and encode a MIDI file, as encode(load_midi(path)) does; StudioError if it cannot be read."""
        slots = self._slots(read_program_score(path), f"MIDI file {path}")
        ids = slots_to_events(slots, self.layout, self.program_offset)
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def decode_notes(self, ids: Sequence[int] | np.ndarray) -> dict[Track, list[StepNote]]:
        """Decode ids into notes on the step grid, per instrument (see decode)."""
        streams = events_to_streams(ids, self.layout, self.program_offset, self.drum_slot + 1)
        tracks = {self.track(slot): events_to_notes(streams[slot], self.layout) for slot in sorted(streams)}
        return {track: notes for track, notes in tracks.items() if notes}

    def decode(self, ids: Sequence[int] | np.ndarray) -> pretty_midi.PrettyMIDI:
        """Decode any ids into a valid PrettyMIDI, one instrument per program (drums as a drum kit).

        Stops at EOS and never raises on odd input: PAD, BOS and unknown ids are skipped.
        """
        pm = pretty_midi.PrettyMIDI()
        step = self.step_seconds
        for (program, is_drum), notes in self.decode_notes(ids).items():
            name = "Drums" if is_drum else pretty_midi.program_to_instrument_name(program)
            instrument = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
            instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start * step, n.end * step) for n in notes]
            pm.instruments.append(instrument)
        return pm

    # --- helpers ----------------------------------------------------------------------------

    def classify(self, token: int) -> tuple[str, int]:
        """(event type, value) of an id: MidiCodec's types, PROGRAM (its program) and DRUMS."""
        slot = token - self.program_offset
        if slot == self.drum_slot:
            return "DRUMS", 0
        if 0 <= slot < self.drum_slot:
            return "PROGRAM", self.track(slot).program
        return self.layout.classify(token)

    def event_name(self, token: int) -> str:
        """Readable name of one id, e.g. PROGRAM(40), DRUMS, NOTE_ON(60), TIME_SHIFT(250ms), EOS."""
        kind, value = self.classify(int(token))
        if kind == "PROGRAM":
            return f"PROGRAM({value})"
        return kind if kind == "DRUMS" else self.layout.name(int(token))

    def seconds(self, ids: Sequence[int] | np.ndarray) -> float:
        """Total duration of the TIME_SHIFTs before the first EOS."""
        steps = 0
        for token in ids:
            kind, value = self.layout.classify(int(token))
            if kind == "EOS":
                break
            steps += value if kind == "TIME_SHIFT" else 0
        return steps * self.step_seconds

    def transpose(self, ids: Sequence[int] | np.ndarray, semitones: int) -> list[int] | None:
        """Shift every pitched NOTE_ON/NOTE_OFF by semitones (drums stay); None if a note would leave 0..127."""
        out: list[int] = []
        drums = False
        for raw in ids:
            token = int(raw)
            kind, value = self.classify(token)
            if kind in ("PROGRAM", "DRUMS"):
                drums = kind == "DRUMS"
            elif kind in ("NOTE_ON", "NOTE_OFF") and not drums:
                pitch = value + semitones
                if not 0 <= pitch <= 127:
                    return None
                token = self.layout.note_on(pitch) if kind == "NOTE_ON" else self.layout.note_off(pitch)
            out.append(token)
        return out

    def stretch(self, ids: Sequence[int] | np.ndarray, factor: float) -> list[int]:
        """Scale all timing by factor (>0), re-quantised to the step grid; other events keep their order."""
        return self._base.stretch(ids, factor)

    # --- internals --------------------------------------------------------------------------

    def _slots(self, pm: pretty_midi.PrettyMIDI | Score, source: str = "the piece") -> dict[int, list[StepNote]]:
        """Quantised notes per instrument slot (slots in id order); StudioError past max_tracks."""
        score = pm if isinstance(pm, Score) else program_score(pm)
        grouped: dict[int, list[Note]] = {}
        for part in score.parts:
            program = part_program(part)
            if not 0 <= program <= 127 and not part.is_drum:
                raise StudioError(f"{source} has an instrument of program {program}: General MIDI programs are 0..127")
            notes = sustained_notes(part, score.end_time)
            if notes:
                grouped.setdefault(self.slot(program, part.is_drum), []).extend(notes)
        if len(grouped) > self.max_tracks:
            fix = "fold programs into families (programs='family') or raise" if self.programs == "all" else "raise"
            raise TooManyInstruments(
                f"{source} has {len(grouped)} instruments, more than max_tracks={self.max_tracks}: {fix} max_tracks",
                len(grouped),
                self.max_tracks,
            )
        return {slot: quantize_notes(grouped[slot], self.step_seconds) for slot in sorted(grouped)}
