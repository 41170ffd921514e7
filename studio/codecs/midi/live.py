"""Keys pressed and released as they happen -> the codec's events, the same as encoding the performance from a file.

`LiveEncoder` keeps the notes (and sustain pedal) of a phrase played in real time and hands out the
events as soon as they are final: those of every time step before the latest moment heard, since
nothing played later can change an earlier step (a press or release at or after that moment rounds
to that step or later). The events come from the file encoder itself (`MidiCodec.performance` and
`notes_to_events`) run on what has been played so far, so a phrase gives exactly the events its MIDI
file would, pedal, rounding and same-key rules included.
"""

from __future__ import annotations

from studio.codecs.midi.codec import MidiCodec
from studio.codecs.midi.events import notes_to_events
from studio.codecs.midi.performance import PEDAL_DOWN
from studio.codecs.midi.score import Part, Score
from studio.errors import StudioError

# The notes one phrase may hold, and how long it may last: a person plays a few notes a second and
# pauses for the answer; a client sending more is not a person.
MAX_NOTES = 20_000
MAX_SECONDS = 3600.0


class LiveEncoder:
    """Times are seconds from the phrase's start, never decreasing (a late message counts as now)."""

    def __init__(self, codec: MidiCodec) -> None:
        self.codec = codec
        self.notes: list[list[float]] = []  # [start, end (None while held), pitch, velocity]
        self.held: dict[int, int] = {}  # pitch -> index of its open note
        self.sustain: list[tuple[float, int]] = []
        self.now = 0.0
        self.emitted: list[int] = []
        self.emitted_step = 0  # the time step the emitted events reach

    def _at(self, seconds: float) -> float:
        if not 0 <= seconds <= MAX_SECONDS:  # NaN too
            raise StudioError(
                f"a note's time {seconds!r} is not within a phrase: send seconds since it began, up to {MAX_SECONDS:g}"
            )
        self.now = max(self.now, float(seconds))
        return self.now

    def press(self, seconds: float, pitch: int, velocity: int) -> None:
        """A key goes down (pitch 0-127, velocity 1-127); a key already down is released first."""
        if not 0 <= int(pitch) <= 127 or not 1 <= int(velocity) <= 127:
            raise StudioError(f"note {pitch} at velocity {velocity} is out of range: pitch 0-127, velocity 1-127")
        if len(self.notes) >= MAX_NOTES:
            raise StudioError(f"a phrase holds at most {MAX_NOTES} notes: pause so the model can answer")
        at = self._at(seconds)
        self.release(at, pitch)
        self.held[int(pitch)] = len(self.notes)
        self.notes.append([at, None, int(pitch), int(velocity)])  # type: ignore[list-item]

    def release(self, seconds: float, pitch: int) -> None:
        """A key comes up (nothing happens for a key that is not down)."""
        at = self._at(seconds)
        index = self.held.pop(int(pitch), None)
        if index is not None:
            self.notes[index][1] = at

    def pedal(self, seconds: float, down: bool) -> None:
        """The sustain pedal goes down or up."""
        self.sustain.append((self._at(seconds), 127 if down else 0))

    @property
    def holding(self) -> bool:
        """Whether a key is down."""
        return bool(self.held)

    def events_until(self, seconds: float) -> list[int]:
        """The events not handed out yet of every time step before `seconds` (they can no longer change)."""
        at = self._at(seconds)
        # What is still held ends "now" here: its release rounds to this step or later, so no event before
        # the cut depends on when it really ends, with one exception: a key struck twice within one step
        # makes one note, with the velocity of the longer strike, which is unknown while either may still sound.
        return self._take(self._events(at), min(round(at / self.codec.step_seconds), self._unsettled_unison()))

    def finish(self, seconds: float) -> list[int]:
        """Release every key and the pedal at `seconds`, and hand out the rest of the phrase's events."""
        at = self._at(seconds)
        for pitch in list(self.held):
            self.release(at, pitch)
        if self.sustain and self.sustain[-1][1] >= PEDAL_DOWN:
            self.pedal(at, False)
        return self._take(self._events(at), None)

    def rest_until(self, seconds: float) -> list[int]:
        """After `finish`: TIME_SHIFT events from the phrase's last event to `seconds` (the silence before an answer)."""
        target = round(self._at(seconds) / self.codec.step_seconds)
        layout, shifts = self.codec.layout, []
        while target > self.emitted_step:
            chunk = min(target - self.emitted_step, layout.num_shifts)
            shifts.append(layout.shift(chunk))
            self.emitted_step += chunk
        self.emitted += shifts
        return shifts

    def _unsettled_unison(self) -> float:
        """The first step holding two strikes of one key of which one may still sound (infinity if none)."""
        step = self.codec.step_seconds
        pedal_down = bool(self.sustain) and self.sustain[-1][1] >= PEDAL_DOWN
        since = self.sustain[-1][0] if pedal_down else float("inf")
        strikes: dict[tuple[int, int], list[bool]] = {}
        for start, end, pitch, _ in self.notes:
            sounding = end is None or end >= since  # held, or released under the pedal that is still down
            strikes.setdefault((int(pitch), round(start / step)), []).append(sounding)
        blocked = [at for (_, at), sounding in strikes.items() if len(sounding) > 1 and any(sounding)]
        return min(blocked, default=float("inf"))

    def _events(self, now: float) -> list[int]:
        """The phrase's events as its file would give them, keys and pedal still held ending at `now`."""
        notes = [(start, now if end is None else end, pitch, velocity) for start, end, pitch, velocity in self.notes]
        score = Score([Part(False, notes, list(self.sustain))], now)  # type: ignore[arg-type]
        return notes_to_events(self.codec.performance(score), self.codec.layout)

    def _take(self, ids: list[int], cut: float | None) -> list[int]:
        """Hand out the events of `ids` past those already handed out, up to the steps before `cut` (None: all)."""
        layout, step, kept, pending = self.codec.layout, 0, [], []
        for token in ids:
            kind, value = layout.classify(token)
            if kind == "TIME_SHIFT":  # shifts are written just before the event they lead to
                pending.append(token)
                step += value
                continue
            if cut is not None and step >= cut:
                break
            kept += [*pending, token]
            pending, self.emitted_step = [], step
        done = len(self.emitted)
        if kept[:done] != self.emitted:
            raise AssertionError("a live phrase changed events it had already handed out")  # a bug, not bad input
        new = kept[done:]
        self.emitted = kept
        return new
