"""MIDI pieces from a language model: batched, grammar-constrained, optionally primed, steered or beam-searched."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import pretty_midi
import torch

from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, TooManyInstruments
from studio.errors import StudioError
from studio.generation.beam_search import BeamSettings, beam_search
from studio.generation.decoding import GenerationInterrupted, Progress
from studio.generation.midi_grammar import MidiGrammar
from studio.generation.multitrack_grammar import MultitrackGrammar
from studio.generation.render import render_piano_roll, render_wav
from studio.generation.sampling import SamplingSettings, generate
from studio.generation.tasks.midi import DEFAULT_SECONDS
from studio.io import FileTooLarge
from studio.resources import check_memory

# The event budget of a piece asked for in seconds. Performances rarely pass 60 events/s and an
# untrained model makes about 250, so pieces reach their length; the bound only stops a model that
# never lets time move on (the grammar then closes the piece cleanly, short).
MAX_EVENTS_PER_SECOND = 1000
# Any event the grammar forces on the model derails it: a NOTE_OFF forced when a forgotten note
# reaches the cap, or odd events where the TIME_SHIFT it wanted would pass the target length, are
# followed by bursts of notes. So, as in Magenta's Performance RNN, notes are cut at the cap when the
# piece is written, and the grammar lets time run up to one longest TIME_SHIFT past --seconds before
# closing; the piece is then cut at --seconds.
NEVER_SECONDS = 365 * 24 * 3600.0
# For the memory a request's decoded pieces take: dense piano playing stays under this many events per
# second, and an event costs about this many bytes once decoded (its id, and a third of a note object).
TYPICAL_EVENTS_PER_SECOND = 100
BYTES_PER_EVENT = 110
AnyMidiCodec = Union[MidiCodec, MultitrackCodec]  # solo piano, or several instruments


@dataclass(frozen=True)
class Piece:
    """One generated piece: its events as generated (primer included), its score, and its length.

    With a length in seconds, the events may run up to one TIME_SHIFT past it; the score is cut there.
    """

    ids: list[int]
    midi: pretty_midi.PrettyMIDI
    seconds: float

    @property
    def notes(self) -> int:
        """Number of notes."""
        return sum(len(inst.notes) for inst in self.midi.instruments)

    def to_midi(self) -> bytes:
        """The piece as a Standard MIDI File, in memory."""
        return midi_bytes(self.midi)

    def to_musicxml(self, grid: int = 16) -> bytes:
        """The piece as a MusicXML score quantised to `grid` notes per whole note, a named part per instrument."""
        from studio.generation.scores import musicxml_bytes

        return musicxml_bytes(self.midi, grid)

    def note_list(self) -> list[dict[str, float]]:
        """Every note as plain data: pitch, start and end (seconds), velocity; sorted by start."""
        notes = [n for inst in self.midi.instruments for n in inst.notes]
        return [
            {"pitch": n.pitch, "start": round(n.start, 4), "end": round(n.end, 4), "velocity": n.velocity}
            for n in sorted(notes, key=lambda n: (n.start, n.pitch))
        ]

    def render_wav(self, path: str | Path, sample_rate: int = 22050) -> str:
        """Write a WAV rendering (FluidSynth when installed, else the built-in synth); return the renderer used."""
        return render_wav(self.midi, path, sample_rate=sample_rate)

    def piano_roll(self, path: str | Path, title: Optional[str] = None) -> None:
        """Write a piano-roll PNG of the piece."""
        render_piano_roll(self.midi, path, title=title or f"{self.seconds:.1f} s, {self.notes} notes")


def primer_ids(codec: AnyMidiCodec, path: Optional[str]) -> list[int]:
    """The primer's event ids (empty without one); StudioError if it is not a MIDI file with notes."""
    if path is None:
        return []
    if not Path(path).is_file():
        raise StudioError(f"--primer {path} does not exist: pass the path of a .mid file")
    try:
        midi = load_midi(path)
        ids = codec.encode(midi) if isinstance(codec, MidiCodec) else None
    except FileTooLarge as error:
        raise error.given_as("--primer") from None
    except StudioError as error:
        cause = error.__cause__
        reason = str(cause).splitlines()[0] if cause is not None and str(cause) else "not a MIDI file"
        raise StudioError(
            f"--primer {path} cannot be read as MIDI ({reason}): pass a Standard MIDI File (.mid)"
        ) from None
    if ids is None:  # several instruments: the codec's own refusals (too many instruments) say what to do
        try:
            ids = codec.encode(midi)
        except TooManyInstruments as error:
            raise StudioError(
                f"--primer {path} has {error.count} instruments, more than this model's max_tracks={error.max_tracks}: "
                f"keep at most {error.max_tracks} of its instruments (delete the other tracks in a MIDI editor)"
            ) from None
        except StudioError as error:
            raise StudioError(f"--primer {path}: {error}") from None
    if not ids:
        raise StudioError(f"--primer {path} has no notes: pass a MIDI file with at least one note")
    return ids


def sample_pieces(
    model: torch.nn.Module,
    codec: AnyMidiCodec,
    num_samples: int,
    settings: SamplingSettings,
    seed: int,
    seconds: Optional[float] = DEFAULT_SECONDS,
    events: Optional[int] = None,
    primer: Optional[list[int]] = None,
    max_note_seconds: float = 5.0,
    controls: Optional[np.ndarray] = None,
    beam: BeamSettings = BeamSettings(),
    progress: Optional[Progress] = None,
    programs: Optional[Sequence[int]] = None,
) -> list[Piece]:
    """Generate `num_samples` pieces together; `seconds` and `events` bound each whole piece, primer included.

    `controls` (see `studio.codecs.midi.controls.control_vector`) steer a model trained with controls.
    `beam` (see `studio.generation.beam_search`) keeps the likeliest of several sampled branches.
    `programs` (a MultitrackCodec's model only: General MIDI numbers, 128 for drums) are the instruments
    the pieces may play (a primer's own instruments aside).
    """
    primer = list(primer or [])
    if seconds is None and events is None:
        raise StudioError("give the pieces a length: --seconds or --length")
    if seconds is not None and not (seconds > 0 and math.isfinite(seconds)):
        raise StudioError(f"--seconds {seconds} must be > 0, e.g. --seconds 30")
    if events is not None and events <= 0:
        raise StudioError(f"--length {events} must be > 0 (events per piece)")
    if not (max_note_seconds > 0 and math.isfinite(max_note_seconds)):
        raise StudioError(f"--max_note_seconds {max_note_seconds} must be > 0, e.g. 5")
    primer_seconds = codec.seconds(primer)
    if seconds is not None and primer_seconds >= seconds:
        raise StudioError(
            f"the primer lasts {primer_seconds:.1f} s, not less than --seconds {seconds}: "
            "raise --seconds (it counts the primer) or use a shorter primer"
        )
    if events is not None and len(primer) + 2 > events:
        raise StudioError(
            f"the primer has {len(primer)} events, too many for --length {events}: "
            "raise --length (it counts the primer) or use a shorter primer"
        )
    overshoot = None if seconds is None else seconds + codec.num_shifts * codec.step_seconds
    # (Bounded so that absurd lengths reach the memory check below as a number, not an overflow.)
    budget = events if events is not None else int(min(overshoot * MAX_EVENTS_PER_SECOND, 2**62)) + 64  # type: ignore[operator]
    # The decoded pieces stay in memory until returned: bound them by a generous event rate.
    expected = budget if seconds is None else min(budget, int(min(seconds * TYPICAL_EVENTS_PER_SECOND, 2**62)) + 64)
    check_memory(f"{num_samples} piece(s)", num_samples * expected * BYTES_PER_EVENT, "ask for fewer or shorter pieces")
    device = next(model.parameters()).device
    grammar = midi_grammar(codec, overshoot, budget, device, programs)
    grammar.prime(primer)
    steering = None if controls is None else torch.as_tensor(controls, dtype=torch.float32)
    prompt = [codec.bos_id, *primer]
    try:
        if beam.plain:
            rows = generate(
                model, prompt, budget - len(primer), num_samples, settings, seed, grammar, steering, progress
            )
        else:
            rows = beam_search(
                model, prompt, budget - len(primer), num_samples, settings, seed, grammar, beam, steering, progress
            ).best()
    except GenerationInterrupted as stop:
        partial = [_piece(codec, primer + row, seconds, max_note_seconds) for row in stop.partial]
        raise GenerationInterrupted(partial) from None
    return [_piece(codec, primer + row, seconds, max_note_seconds) for row in rows]


def midi_grammar(
    codec: AnyMidiCodec,
    max_seconds: Optional[float],
    max_events: Optional[int],
    device: torch.device | str = "cpu",
    programs: Optional[Sequence[int]] = None,
) -> MidiGrammar:
    """The sampling grammar of a codec: MidiGrammar for piano, MultitrackGrammar (limited to `programs`) for bands."""
    if isinstance(codec, MultitrackCodec):
        return MultitrackGrammar(codec, max_seconds, max_events, device=device, programs=programs)
    if programs is not None:
        raise StudioError("this model plays one instrument (piano): drop --programs")
    return MidiGrammar(codec, max_seconds, max_events, device=device)


def _piece(codec: AnyMidiCodec, ids: list[int], seconds: Optional[float], max_note_seconds: float) -> Piece:
    """The piece of generated `ids`: cut at `seconds`, notes trimmed to `max_note_seconds`, a closing rest kept."""
    length = min(codec.seconds(ids), seconds or NEVER_SECONDS)
    midi = _cut(codec.decode(ids), length, max_note_seconds)
    if isinstance(codec, MultitrackCodec):  # an instrument whose notes all came after the end has no track
        midi.instruments = [i for i in midi.instruments if i.notes] or midi.instruments[:1]
    return Piece(ids, _with_end(midi, length), length)


def _cut(pm: pretty_midi.PrettyMIDI, seconds: float, max_note_seconds: float) -> pretty_midi.PrettyMIDI:
    # Notes end by the piece's end and last at most max_note_seconds; notes starting at the end go.
    for instrument in pm.instruments:
        instrument.notes = [n for n in instrument.notes if n.start < seconds]
        for note in instrument.notes:
            note.end = min(note.end, note.start + max_note_seconds, seconds)
    return pm


def _with_end(pm: pretty_midi.PrettyMIDI, seconds: float) -> pretty_midi.PrettyMIDI:
    # A closing rest is part of the piece: a pedal-up at its end makes players (and pretty_midi) last that long.
    if pm.instruments and seconds > pm.get_end_time():
        pm.instruments[0].control_changes.append(pretty_midi.ControlChange(64, 0, seconds))
    return pm


def midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    """The Standard MIDI File of pm, in memory (so it can be written atomically)."""
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()
