"""MidiCodec: Performance-RNN style event ids for piano performances, and MIDI file reading."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Optional

import numpy as np
import pretty_midi

from studio.codecs.midi.controls import check_controls, control_dim, control_frames
from studio.codecs.midi.events import EventIds, EventLayout, events_to_notes, notes_to_events
from studio.codecs.midi.file import read_score
from studio.codecs.midi.performance import StepNote, performance_notes, quantize_notes
from studio.codecs.midi.score import Score, score_from_pretty_midi
from studio.errors import StudioError
from studio.io import os_reason, read_capped

_CONFIG_KEYS = ("resolution_ms", "max_shift_ms", "velocity_bins", "keep_drums")


# The largest MIDI file Studio reads (a file is read whole): an hour of dense piano is about 2 MB, so a larger
# file is not a performance, and reading it would cost its size in memory several times over.
MAX_MIDI_BYTES = 64 * 1024**2


def midi_bytes(path: str | os.PathLike[str]) -> bytes:
    """A MIDI file's bytes, the one way every MIDI file is read: a missing, unreadable or too large
    (MAX_MIDI_BYTES, io.FileTooLarge) file is a StudioError in one line, the size refused before reading."""
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"MIDI file {path} does not exist: check the path")
    try:
        return read_capped(path, MAX_MIDI_BYTES, "MIDI file")
    except OSError as error:
        raise StudioError(f"cannot read MIDI file {path} ({os_reason(error)}): check its permissions") from None


def parse_midi(data: bytes, path: str | os.PathLike[str]) -> pretty_midi.PrettyMIDI:
    """Parse a MIDI file's bytes (read by `midi_bytes`); StudioError naming the file and the fix if they are not MIDI."""
    try:
        with warnings.catch_warnings():
            # pretty_midi warns about meta events on non-zero tracks in most real files: noise to users.
            warnings.filterwarnings("ignore", category=RuntimeWarning, module="pretty_midi")
            return pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:  # mido/pretty_midi raise many types (OSError, EOFError, KeyError, ValueError...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudioError(
            f"cannot read MIDI file {path} ({reason}): re-export it as a Standard MIDI File (.mid) or remove it"
        ) from exc


def load_midi(path: str | os.PathLike[str]) -> pretty_midi.PrettyMIDI:
    """Read and parse a MIDI file; StudioError naming the file and the fix if it cannot be read."""
    return parse_midi(midi_bytes(path), path)


def read_midi_score(path: str | os.PathLike[str]) -> Score:
    """The Score of a MIDI file: read directly when the fast reader can, else through pretty_midi."""
    data = midi_bytes(path)
    score = read_score(data)
    return score if score is not None else score_from_pretty_midi(parse_midi(data, path))


@dataclass(frozen=True)
class MidiCodec(EventIds):
    """Piano performance <-> event ids: NOTE_ON/NOTE_OFF x128, TIME_SHIFT steps, VELOCITY bins, PAD/BOS/EOS."""

    resolution_ms: int = 10
    max_shift_ms: int = 1000
    velocity_bins: int = 32
    keep_drums: bool = False
    controls: tuple[str, ...] = ()
    layout: EventLayout = field(init=False, repr=False, compare=False)

    kind: ClassVar[str] = "midi"

    def __post_init__(self) -> None:
        for name in ("resolution_ms", "max_shift_ms", "velocity_bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StudioError(f"MidiCodec {name}={value!r} is invalid: use a positive whole number")
        if self.max_shift_ms < self.resolution_ms:
            raise StudioError(
                f"MidiCodec max_shift_ms={self.max_shift_ms} is below resolution_ms={self.resolution_ms}: "
                "make max_shift_ms at least one step"
            )
        if self.velocity_bins > 127:
            raise StudioError(f"MidiCodec velocity_bins={self.velocity_bins} is too many: use 1..127")
        layout = EventLayout(self.max_shift_ms // self.resolution_ms, self.velocity_bins, self.resolution_ms)
        object.__setattr__(self, "layout", layout)
        object.__setattr__(self, "controls", check_controls(self.controls))

    # --- common codec interface -------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.layout.vocab_size

    @property
    def control_dim(self) -> int:
        """Width of the control vector beside each event (0 without controls)."""
        return control_dim(self.controls)

    def control_frames(self, ids: Sequence[int] | np.ndarray) -> Any:
        """Float32 array [len(ids), control_dim]: each event's controls (see studio.codecs.midi.controls)."""
        return control_frames(ids, self.layout, self.step_seconds, self.controls)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data description (safe for torch.load(weights_only=True))."""
        d = {"kind": self.kind, **{key: getattr(self, key) for key in _CONFIG_KEYS}}
        return {**d, "controls": list(self.controls)} if self.controls else d

    def events_dict(self) -> dict[str, Any]:
        """The settings that decide the event ids (what an encoded file depends on): to_dict() less the controls."""
        return {key: value for key, value in self.to_dict().items() if key != "controls"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MidiCodec:
        """Rebuild a codec from to_dict() output."""
        if d.get("kind", cls.kind) != cls.kind:
            raise StudioError(f"codec kind {d.get('kind')!r} is not 'midi': load it with the matching codec")
        unknown = set(d) - set(_CONFIG_KEYS) - {"kind", "controls"}
        if unknown:
            raise StudioError(f"unknown MidiCodec settings {sorted(unknown)}: remove them or update Studio")
        return cls(**{key: d[key] for key in _CONFIG_KEYS if key in d}, controls=tuple(d.get("controls", ())))

    # --- encode / decode --------------------------------------------------------------------

    def performance(self, pm: pretty_midi.PrettyMIDI | Score) -> list[StepNote]:
        """The notes encode() sees: merged instruments, pedal applied, quantized to steps."""
        score = pm if isinstance(pm, Score) else score_from_pretty_midi(pm)
        return quantize_notes(performance_notes(score, self.keep_drums), self.step_seconds)

    def encode(self, pm: pretty_midi.PrettyMIDI | Score, add_bos_eos: bool = False) -> list[int]:
        """Encode a PrettyMIDI (or Score) as event ids (optionally wrapped in BOS ... EOS)."""
        ids = notes_to_events(self.performance(pm), self.layout)
        return [self.bos_id, *ids, self.eos_id] if add_bos_eos else ids

    def encode_file(self, path: str | os.PathLike[str], add_bos_eos: bool = False) -> list[int]:
        """Read and encode a MIDI file, as encode(load_midi(path)) does; StudioError if it cannot be read."""
        return self.encode(read_midi_score(path), add_bos_eos=add_bos_eos)

    def decode_notes(self, ids: Sequence[int]) -> list[StepNote]:
        """Decode ids into notes on the step grid (see decode)."""
        return events_to_notes(ids, self.layout)

    def decode(self, ids: Sequence[int]) -> pretty_midi.PrettyMIDI:
        """Decode any ids into a valid one-piano PrettyMIDI; stops at EOS, never raises on odd input."""
        pm = pretty_midi.PrettyMIDI()
        piano = pretty_midi.Instrument(program=0, name="Piano")
        step = self.step_seconds
        for n in self.decode_notes(ids):
            piano.notes.append(pretty_midi.Note(n.velocity, n.pitch, n.start * step, n.end * step))
        pm.instruments.append(piano)
        return pm

    # --- helpers ----------------------------------------------------------------------------

    def event_name(self, token: int) -> str:
        """Readable name of one id, e.g. NOTE_ON(60), TIME_SHIFT(250ms), VELOCITY(12), EOS."""
        return self.layout.name(int(token))

    def seconds(self, ids: Sequence[int]) -> float:
        """Total duration of the TIME_SHIFTs before the first EOS."""
        steps = 0
        for token in ids:
            kind, value = self.layout.classify(int(token))
            if kind == "EOS":
                break
            if kind == "TIME_SHIFT":
                steps += value
        return steps * self.step_seconds

    def transpose(self, ids: Sequence[int], semitones: int) -> list[int] | None:
        """Shift every NOTE_ON/NOTE_OFF by semitones; None if any note would leave 0..127."""
        out: list[int] = []
        for token in ids:
            kind, value = self.layout.classify(int(token))
            if kind in ("NOTE_ON", "NOTE_OFF"):
                pitch = value + semitones
                if not 0 <= pitch <= 127:
                    return None
                out.append(self.layout.note_on(pitch) if kind == "NOTE_ON" else self.layout.note_off(pitch))
            else:
                out.append(int(token))
        return out

    def stretch(self, ids: Sequence[int] | np.ndarray, factor: float) -> list[int]:
        """Scale all timing by factor (>0), re-quantized to the step grid; other events keep their order."""
        if not factor > 0:
            raise StudioError(f"time stretch factor {factor!r} is invalid: use a number above 0")
        # Rescale absolute times (not each shift) so rounding errors never accumulate.
        timed: list[tuple[int, int | None]] = []
        now = 0
        for token in ids:
            kind, value = self.layout.classify(int(token))
            if kind == "TIME_SHIFT":
                now += value
            else:
                timed.append((round(now * factor), int(token)))
        end = round(now * factor)
        out: list[int] = []
        cursor = 0
        stops: list[tuple[int, Optional[int]]] = [*timed, (end, None)]
        for when, token in stops:
            gap = when - cursor
            while gap > 0:
                chunk = min(gap, self.num_shifts)
                out.append(self.layout.shift(chunk))
                gap -= chunk
            cursor = when
            if token is not None:
                out.append(token)
        return out
