"""A duet with a MIDI model: a person plays a phrase, pauses, and the model answers from where the phrase left it.

The conversation is one event stream that the model reads as it goes: the person's notes (encoded live,
exactly as their file would be, see `studio.codecs.midi.live`), the pause as TIME_SHIFTs, the model's
own answer, the next phrase... so the model remembers the whole duet in its recurrent state. An answer
is sampled event by event (the same filters, grammar and seeded draws as `studio sample`) and handed
out as notes with their times as soon as each is drawn. When the person plays over an answer, the
answer is cut where it was heard: the state is rebuilt from before the answer with only the heard
part, the notes it left sounding released there.

Times are seconds on the player's clock (the page's audio clock), the same for every call of a session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pretty_midi
import torch

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.live import LiveEncoder
from studio.errors import StudioError
from studio.generation.decoding import conditioned_step, next_scores
from studio.generation.filtering import SamplingSettings, draw
from studio.generation.midi_grammar import MidiGrammar
from studio.nn.state import State

# How long a duet may grow (events of both players): about an hour of dense playing.
MAX_EVENTS = 200_000
# Answers longer than this are not a reply any more; `studio sample` writes long pieces.
MAX_ANSWER_SECONDS = 60.0


@dataclass(frozen=True)
class DuetSettings:
    """How the model answers: for how long, how adventurously, steered how, and from which seed."""

    answer_seconds: float = 4.0
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    notes_per_second: Optional[float] = None
    pitch_class_histogram: Optional[tuple[float, ...]] = None

    def __post_init__(self) -> None:
        if not 0 < self.answer_seconds <= MAX_ANSWER_SECONDS:
            raise StudioError(f"answer_seconds {self.answer_seconds!r} must be in (0, {MAX_ANSWER_SECONDS:g}], e.g. 4")
        SamplingSettings(self.temperature, self.top_k, self.top_p)  # its own range checks


@dataclass(frozen=True)
class Note:
    """A note of the duet on the player's clock: who played it, pitch, velocity, start and end in seconds."""

    player: str  # "person" or "model"
    pitch: int
    velocity: int
    start: float
    end: float


@dataclass(frozen=True)
class NoteEvent:
    """A key of the model's answer going down ("on") or up ("off") at `time` on the player's clock."""

    kind: str
    pitch: int
    velocity: int
    time: float


class Duet:
    """One duet between a person and `model` (a MIDI language model with its `codec`)."""

    def __init__(self, model: torch.nn.Module, codec: MidiCodec, settings: DuetSettings = DuetSettings()) -> None:
        if not isinstance(codec, MidiCodec):
            raise StudioError("a duet needs a MIDI model: pick a run trained on MIDI")
        self.model, self.codec = model.eval(), codec
        self.settings = settings
        self.device = next(model.parameters()).device
        self._step = conditioned_step(model, self._controls(settings))
        self.random = torch.Generator(device="cpu").manual_seed(settings.seed)
        self.ids: list[int] = []
        self.state: Optional[State] = None
        self.logits: Optional[torch.Tensor] = None
        self.stop = threading.Event()  # set from another thread: the person plays over the answer
        self.notes: list[Note] = []
        self._held: dict[int, tuple[float, int]] = {}  # the person's keys down: pitch -> (start, velocity)
        self.phrase: Optional[LiveEncoder] = None
        self.origin = 0.0  # where the phrase's time 0 is on the player's clock
        self.free_from = 0.0  # when the last answer ended (or was cut): the next phrase's time 0
        self._before_answer: Optional[tuple[int, Optional[State], Optional[torch.Tensor]]] = None
        self._answer: list[tuple[int, int]] = []  # the last answer's (event, step it plays at)
        self.answer_start = 0.0
        self.turns = 0
        self.hear([codec.bos_id])

    def configure(self, settings: DuetSettings) -> None:
        """New settings for the answers to come (a new seed restarts the draws from it)."""
        if settings.seed != self.settings.seed:
            self.random.manual_seed(settings.seed)
        self.settings = settings
        self._step = conditioned_step(self.model, self._controls(settings))

    def _controls(self, settings: DuetSettings) -> Optional[torch.Tensor]:
        """The control vector a model trained with controls is steered by (none for one without)."""
        if not self.codec.controls and settings.notes_per_second is None and settings.pitch_class_histogram is None:
            return None  # (asked of a model without controls, control_vector says so in one line)
        from studio.codecs.midi.controls import control_vector

        vector = control_vector(self.codec.controls, settings.notes_per_second, settings.pitch_class_histogram)
        return torch.as_tensor(np.asarray(vector), dtype=torch.float32)

    # -- the model reads ---------------------------------------------------------------------
    @torch.no_grad()
    def hear(self, ids: list[int]) -> None:
        """Feed events to the model, carrying its state."""
        if not ids:
            return
        if len(self.ids) + len(ids) > MAX_EVENTS:
            raise StudioError(f"this duet reached {MAX_EVENTS} events: save it and start a new one")
        tokens = torch.tensor([ids], device=self.device)
        logits, self.state = self._step(tokens, self.state)
        self.logits = logits[:, -1]
        self.ids += ids

    # -- the person plays ----------------------------------------------------------------------
    def _phrase(self, time: float) -> LiveEncoder:
        """The phrase being played, begun at the first key since the last answer."""
        if self.phrase is None:
            self.phrase = LiveEncoder(self.codec)
            # The first phrase starts at its first key; a later one where the answer stopped, so the rest between counts.
            self.origin = time if self.turns == 0 else min(self.free_from, time)
        return self.phrase

    def press(self, time: float, pitch: int, velocity: int) -> None:
        """A key goes down."""
        phrase = self._phrase(time)
        phrase.press(time - self.origin, pitch, velocity)
        self._close(time, pitch)
        self._held[int(pitch)] = (time, int(velocity))
        self.hear(phrase.events_until(time - self.origin))

    def release(self, time: float, pitch: int) -> None:
        """A key comes up."""
        if self.phrase is None:
            return
        self.phrase.release(time - self.origin, pitch)
        self._close(time, pitch)
        self.hear(self.phrase.events_until(time - self.origin))

    def pedal(self, time: float, down: bool) -> None:
        """The sustain pedal goes down or up."""
        self._phrase(time).pedal(time - self.origin, down)

    @property
    def holding(self) -> bool:
        """Whether the person holds a key down."""
        return bool(self._held)

    @property
    def playing(self) -> bool:
        """Whether a phrase has begun that the model has not answered yet."""
        return self.phrase is not None

    def _close(self, time: float, pitch: int) -> None:
        begun = self._held.pop(int(pitch), None)
        if begun is not None:
            self.notes.append(Note("person", int(pitch), begun[1], begun[0], max(time, begun[0])))

    # -- the model answers -----------------------------------------------------------------------
    @torch.no_grad()
    def answer(self, start: float) -> Iterator[NoteEvent]:
        """The model's answer to the phrase, starting at `start` (after the pause), note by note as it is drawn.

        Stops early when `stop` is set (see `cut`).
        """
        if self.phrase is None:
            raise StudioError("play a phrase first: the model answers what it hears")
        for pitch in list(self._held):
            self._close(start, pitch)
        self.hear(self.phrase.finish(start - self.origin) + self.phrase.rest_until(start - self.origin))
        self.phrase, self.turns, self.answer_start = None, self.turns + 1, start
        self._before_answer = (len(self.ids), self.state, self.logits)
        self._answer = []
        self.stop.clear()
        settings = self.settings
        sampling = SamplingSettings(settings.temperature, settings.top_k, settings.top_p)
        budget = int(settings.answer_seconds * 1000) + 64  # a generous event bound, as for `studio sample`
        grammar = MidiGrammar(self.codec, settings.answer_seconds, budget, device=self.device)
        grammar.reset(1)
        layout, step, velocity = self.codec.layout, 0, self._last_velocity()
        sounding: dict[int, tuple[float, int]] = {}
        while not self.stop.is_set():
            assert self.logits is not None
            scores = next_scores(self.logits, grammar, sampling)
            token = int(draw(scores.softmax(-1), self.random)[0])
            if token == self.codec.eos_id:
                break
            grammar.update(torch.tensor([token], device=self.device))
            self.hear([token])
            self._answer.append((token, step))
            kind, value = layout.classify(token)
            time = start + step * self.codec.step_seconds
            if kind == "TIME_SHIFT":
                step += value
            elif kind == "VELOCITY":
                velocity = layout.bin_velocity(value)
            elif kind == "NOTE_OFF" and value in sounding:
                yield self._end_note(sounding, value, time)
            elif kind == "NOTE_ON":
                if value in sounding:
                    yield self._end_note(sounding, value, time)
                sounding[value] = (time, velocity)
                yield NoteEvent("on", value, velocity, time)
        end = start + step * self.codec.step_seconds
        for pitch in list(sounding):
            yield self._end_note(sounding, pitch, end)
        self.free_from = end

    def _end_note(self, sounding: dict[int, tuple[float, int]], pitch: int, time: float) -> NoteEvent:
        began, velocity = sounding.pop(pitch)
        self.notes.append(Note("model", pitch, velocity, began, max(time, began)))
        return NoteEvent("off", pitch, velocity, time)

    def _last_velocity(self) -> int:
        """The velocity the events so far leave set (an answer's first note may not set its own)."""
        layout = self.codec.layout
        for token in reversed(self.ids):
            kind, value = layout.classify(token)
            if kind == "VELOCITY":
                return layout.bin_velocity(value)
        return layout.bin_velocity(layout.velocity_bin(64))

    def cut(self, time: float) -> None:
        """The person played at `time` over the last answer: keep only the part heard before it."""
        if self._before_answer is None or time >= self.free_from:
            return
        heard = max(0, round((time - self.answer_start) / self.codec.step_seconds))
        length, self.state, self.logits = self._before_answer
        del self.ids[length:]
        kept, sounding = [], set()
        layout = self.codec.layout
        for token, step in self._answer:
            kind, value = layout.classify(token)
            if step >= heard or (kind == "TIME_SHIFT" and step + value > heard):
                break
            kept.append(token)
            if kind == "NOTE_ON":
                sounding.add(value)
            elif kind == "NOTE_OFF":
                sounding.discard(value)
        reached = sum(layout.classify(t)[1] for t in kept if layout.classify(t)[0] == "TIME_SHIFT")
        rest = heard - reached
        while rest > 0:
            chunk = min(rest, layout.num_shifts)
            kept.append(layout.shift(chunk))
            rest -= chunk
        kept += [layout.note_off(pitch) for pitch in sorted(sounding)]
        self.hear(kept)
        cut_at = self.answer_start + heard * self.codec.step_seconds
        self.notes = [
            note
            if note.player == "person" or note.end <= cut_at
            else Note("model", note.pitch, note.velocity, note.start, cut_at)
            for note in self.notes
            if note.player == "person" or note.start < cut_at
        ]
        self.free_from = cut_at
        self._before_answer = None

    # -- what was played ----------------------------------------------------------------------------
    def score(self) -> pretty_midi.PrettyMIDI:
        """The duet so far as MIDI: the person's notes and the model's on two piano tracks, from the first note."""
        notes = [*self.notes, *(Note("person", p, v, s, s) for p, (s, v) in self._held.items())]
        begin = min((note.start for note in notes), default=0.0)
        pm = pretty_midi.PrettyMIDI()
        for player in ("person", "model"):
            track = pretty_midi.Instrument(program=0, name=player)
            for note in sorted((n for n in notes if n.player == player), key=lambda n: (n.start, n.pitch)):
                end = max(note.end, note.start + self.codec.step_seconds)
                track.notes.append(pretty_midi.Note(note.velocity, note.pitch, note.start - begin, end - begin))
            pm.instruments.append(track)
        return pm

    def events(self) -> list[int]:
        """Every event the model has read, the BOS first."""
        return list(self.ids)


def answer_into(duet: Duet, start: float, deliver: Callable[[list[NoteEvent]], Any], every: int = 8) -> None:
    """Run an answer, delivering its first note the moment it is drawn, then the rest in batches of `every`."""
    batch: list[NoteEvent] = []
    first = True
    for event in duet.answer(start):
        batch.append(event)
        if first or len(batch) >= every:
            deliver(batch)
            batch, first = [], False
    if batch:
        deliver(batch)
