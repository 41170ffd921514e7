"""The MIDI event vocabulary (ids, names, velocity bins) and the notes <-> event-ids translation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from studio.codecs.midi.performance import StepNote

NUM_PITCHES = 128
DEFAULT_VELOCITY = 64  # what a NOTE_ON plays at before any VELOCITY event


def _bin_of(velocity: int, bins: int) -> int:
    # Bins split the usable velocities 1..127 as evenly as integers allow.
    return (min(127, max(1, velocity)) - 1) * bins // 127


@dataclass(frozen=True)
class EventLayout:
    """Where each event type lives in the vocabulary: PAD, BOS, EOS, NOTE_ON, NOTE_OFF, TIME_SHIFT, VELOCITY."""

    num_shifts: int
    velocity_bins: int
    resolution_ms: int
    _centres: tuple[int, ...] = field(init=False, repr=False, compare=False)

    pad_id = 0
    bos_id = 1
    eos_id = 2
    note_on_offset = 3
    note_off_offset = 3 + NUM_PITCHES

    def __post_init__(self) -> None:
        members: dict[int, list[int]] = {}
        for v in range(1, 128):
            members.setdefault(_bin_of(v, self.velocity_bins), []).append(v)
        # The centre of each bin maps back into the same bin, so velocity bins survive a round trip.
        centres = tuple((min(members[b]) + max(members[b])) // 2 for b in range(self.velocity_bins))
        object.__setattr__(self, "_centres", centres)

    @property
    def shift_offset(self) -> int:
        """First TIME_SHIFT id (a shift of one step)."""
        return self.note_off_offset + NUM_PITCHES

    @property
    def velocity_offset(self) -> int:
        """First VELOCITY id (bin 0)."""
        return self.shift_offset + self.num_shifts

    @property
    def vocab_size(self) -> int:
        """Number of ids, specials included."""
        return self.velocity_offset + self.velocity_bins

    def note_on(self, pitch: int) -> int:
        """Id of NOTE_ON(pitch)."""
        return self.note_on_offset + pitch

    def note_off(self, pitch: int) -> int:
        """Id of NOTE_OFF(pitch)."""
        return self.note_off_offset + pitch

    def shift(self, steps: int) -> int:
        """Id of TIME_SHIFT(steps), 1 <= steps <= num_shifts."""
        return self.shift_offset + steps - 1

    def velocity(self, bin_index: int) -> int:
        """Id of VELOCITY(bin_index)."""
        return self.velocity_offset + bin_index

    def velocity_bin(self, velocity: int) -> int:
        """Bin of a MIDI velocity 1..127."""
        return _bin_of(velocity, self.velocity_bins)

    def bin_velocity(self, bin_index: int) -> int:
        """MIDI velocity played for a bin: its centre."""
        return self._centres[bin_index]

    def classify(self, token: int) -> tuple[str, int]:
        """Return (event type, value) for an id; unknown ids are ("UNKNOWN", id)."""
        if token == self.pad_id:
            return "PAD", 0
        if token == self.bos_id:
            return "BOS", 0
        if token == self.eos_id:
            return "EOS", 0
        if self.note_on_offset <= token < self.note_off_offset:
            return "NOTE_ON", token - self.note_on_offset
        if self.note_off_offset <= token < self.shift_offset:
            return "NOTE_OFF", token - self.note_off_offset
        if self.shift_offset <= token < self.velocity_offset:
            return "TIME_SHIFT", token - self.shift_offset + 1
        if self.velocity_offset <= token < self.vocab_size:
            return "VELOCITY", token - self.velocity_offset
        return "UNKNOWN", token

    def name(self, token: int) -> str:
        """Human-readable event, e.g. NOTE_ON(60) or TIME_SHIFT(250ms)."""
        kind, value = self.classify(token)
        if kind in ("PAD", "BOS", "EOS"):
            return kind
        if kind == "TIME_SHIFT":
            return f"TIME_SHIFT({value * self.resolution_ms}ms)"
        return f"{kind}({value})"


def notes_to_events(notes: Sequence[StepNote], layout: EventLayout) -> list[int]:
    """Encode quantized, non-overlapping-per-pitch notes as event ids (offs before ons at each step)."""
    # (step, order, pitch, velocity): order 0 = NOTE_OFF so a re-struck key is released before it sounds again.
    timeline = [(n.end, 0, n.pitch, 0) for n in notes] + [(n.start, 1, n.pitch, n.velocity) for n in notes]
    timeline.sort()
    ids: list[int] = []
    now = 0
    current_bin: int | None = None
    for step, order, pitch, velocity in timeline:
        gap = step - now
        while gap > 0:
            chunk = min(gap, layout.num_shifts)
            ids.append(layout.shift(chunk))
            gap -= chunk
        now = step
        if order == 0:
            ids.append(layout.note_off(pitch))
            continue
        bin_index = layout.velocity_bin(velocity)
        if bin_index != current_bin:
            ids.append(layout.velocity(bin_index))
            current_bin = bin_index
        ids.append(layout.note_on(pitch))
    return ids


def events_to_notes(ids: Sequence[int], layout: EventLayout) -> list[StepNote]:
    """Decode any id sequence into well-formed notes; tolerant of every malformed input, stops at EOS."""
    now = 0
    velocity = layout.bin_velocity(layout.velocity_bin(DEFAULT_VELOCITY))
    sounding: dict[int, tuple[int, int]] = {}  # pitch -> (start step, velocity)
    finished: list[StepNote] = []
    # A note closed in the same step it started is stretched to one step; a re-strike in that step replaces it.
    blip_at: dict[int, tuple[int, int]] = {}  # pitch -> (step, index in finished)
    replaced: set[int] = set()

    def close(pitch: int) -> None:
        start, vel = sounding.pop(pitch)
        if now == start:
            blip_at[pitch] = (now, len(finished))
        finished.append(StepNote(start, max(now, start + 1), pitch, vel))

    for raw in ids:
        kind, value = layout.classify(int(raw))
        if kind == "EOS":
            break
        if kind == "TIME_SHIFT":
            now += value
        elif kind == "VELOCITY":
            velocity = layout.bin_velocity(value)
        elif kind == "NOTE_OFF" and value in sounding:
            close(value)
        elif kind == "NOTE_ON":
            if value in sounding:
                if sounding[value][0] == now:
                    continue  # a second strike in the same instant adds nothing audible
                close(value)
            blip = blip_at.pop(value, None)
            if blip is not None and blip[0] == now:
                replaced.add(blip[1])
            sounding[value] = (now, velocity)
    for pitch in list(sounding):
        close(pitch)
    return sorted(n for i, n in enumerate(finished) if i not in replaced)


class EventIds:
    """The special ids and the time grid an event codec reads from its `layout` and `resolution_ms`."""

    layout: EventLayout
    resolution_ms: int

    @property
    def pad_id(self) -> int:
        """Padding id (0)."""
        return self.layout.pad_id

    @property
    def bos_id(self) -> int:
        """Begin-of-sequence id."""
        return self.layout.bos_id

    @property
    def eos_id(self) -> int:
        """End-of-sequence id."""
        return self.layout.eos_id

    @property
    def num_shifts(self) -> int:
        """Number of TIME_SHIFT ids (a shift of 1..num_shifts steps)."""
        return self.layout.num_shifts

    @property
    def step_seconds(self) -> float:
        """Length of one time step in seconds."""
        return self.resolution_ms / 1000.0
