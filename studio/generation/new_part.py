"""A new part under existing ones: the primer's parts are replayed event for event at their times (teacher-forced)
and the model writes only the new instrument's events between them (`--new_part` with `--primer`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import pretty_midi
import torch

from studio.codecs.midi.events import NUM_PITCHES
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError
from studio.generation.decoding import GenerationInterrupted, Progress
from studio.generation.midi import Piece
from studio.generation.sampling import SamplingSettings, generate
from studio.generation.tasks.midi import DRUMS, program_label

# Room for the new part: at most this many of its events per second of the primer (chorales have about 10 a
# second per part, dense piano about 60), plus a few for a short primer. The kept parts always fit.
NEW_EVENTS_PER_SECOND = 80
NEW_EVENTS_EXTRA = 64
# A TIME_SHIFT of up to this many steps past the next kept event is taken, and ends at it.
SNAP_STEPS = 3
# The new part is one part: at most this many of its notes begin at one step and sound at once. Where the
# model would rather write a kept instrument (not allowed), it otherwise piles up notes of the new one.
MAX_CHORD = 3
MAX_SOUNDING = 4
# A kept event costs at most three tokens: an instrument token, a VELOCITY and the note itself.
TOKENS_PER_KEPT_EVENT = 3

# A kept event: (slot, 0 for NOTE_OFF or 1 for NOTE_ON, pitch, velocity bin).
KeptEvent = tuple[int, int, int, int]


@dataclass
class _Row:
    """One sample's place: its time, tokens, instrument and velocity in force, and the next kept event."""

    now: int = 0
    count: int = 0
    current: int = 0  # the current instrument's slot (program 0 until a token says)
    velocity: int = -1  # the velocity bin in force (none yet)
    block: int = 0  # the next kept block
    pos: int = 0  # kept events of that block already written
    sounding: set[int] = field(default_factory=set)  # the new part's sounding pitches
    onsets: int = 0  # the new part's NOTE_ONs at this step
    after_velocity: bool = False  # the model wrote a VELOCITY: the new part's NOTE_ON must follow
    yielded: bool = False  # the model has let this step's kept events of higher slots begin
    done: bool = False


class NewPartGrammar:
    """A Constraint for `studio.generation.sampling.generate`: kept events are the only token allowed when their
    time comes (preceded by their instrument token and VELOCITY when those changed), in between the model
    writes the new instrument's notes and TIME_SHIFTs that never pass the next kept event, and once the kept
    parts end the new part's notes are released and the piece ends. Room is always kept for what must follow.
    """

    def __init__(self, codec: MultitrackCodec, kept: Sequence[int], new_slot: int, max_events: int) -> None:
        self.codec, self.layout, self.new_slot = codec, codec.layout, new_slot
        self.vocab_size = codec.vocab_size
        self.max_events = max_events
        self.blocks = kept_blocks(codec, kept)
        self.end = self.blocks[-1][0] if self.blocks else 0
        # splits[b]: where block b's kept events of slots above the new part's begin (the new part's turn).
        self.splits = [sum(event[0] < new_slot for event in events) for _, events in self.blocks] + [0]
        # cost[b]: tokens the kept events from block b on may take, their TIME_SHIFTs included.
        self.cost = [0] * (len(self.blocks) + 1)
        for b in range(len(self.blocks) - 1, -1, -1):
            gap = self.blocks[b + 1][0] - self.blocks[b][0] if b + 1 < len(self.blocks) else 0
            shifts = math.ceil(gap / self.layout.num_shifts)
            self.cost[b] = self.cost[b + 1] + TOKENS_PER_KEPT_EVENT * len(self.blocks[b][1]) + shifts
        self.rows: list[_Row] = []
        self.device = torch.device("cpu")

    # --- the Constraint protocol -------------------------------------------------------------

    def reset(self, batch_size: int) -> None:
        """Start B new samples."""
        self.rows = [_Row() for _ in range(batch_size)]

    def keep(self, rows: torch.Tensor) -> None:
        """Narrow the batch to these rows, in their new order."""
        self.rows = [self.rows[int(r)] for r in rows.tolist()]

    def finished(self) -> torch.Tensor:
        """Bool [B]: True once a sample has written its EOS."""
        return torch.tensor([row.done for row in self.rows], dtype=torch.bool, device=self.device)

    def progress(self) -> float:
        """How far the slowest unfinished sample is through the kept parts, in [0, 1]."""
        live = [row.now for row in self.rows if not row.done]
        return 1.0 if not live else min(1.0, min(live) / max(1, self.end))

    def allowed(self) -> torch.Tensor:
        """Bool [B, vocab_size]: True where a token may be emitted next."""
        mask = torch.zeros(len(self.rows), self.vocab_size, dtype=torch.bool)
        for i, row in enumerate(self.rows):
            self._allow(row, mask[i])
        return mask.to(self.device)

    def update(self, tokens: torch.Tensor) -> None:
        """Advance every sample by the token it just emitted (LongTensor [B])."""
        self.device = tokens.device
        for row, token in zip(self.rows, tokens.reshape(-1).tolist()):
            self._advance(row, int(token))

    # --- one row --------------------------------------------------------------------------------

    def _forced(self, row: _Row) -> Optional[tuple[int, bool]]:
        """The token the next kept event needs at this step, and whether it is the event itself (not its
        instrument token or VELOCITY); None when no kept event is due now or the model owes a NOTE_ON."""
        if row.block >= len(self.blocks) or self.blocks[row.block][0] != row.now or row.after_velocity:
            return None
        slot, order, pitch, velocity = self.blocks[row.block][1][row.pos]
        if slot != row.current:
            return self.codec.program_offset + slot, False
        if order == 1 and velocity != row.velocity:
            return self.layout.velocity(velocity), False
        return (self.layout.note_on(pitch) if order == 1 else self.layout.note_off(pitch)), True

    def _may_write(self, row: _Row) -> bool:
        """Whether the due kept event waits for the model: the new part's turn comes before the kept instruments
        of higher slots, as the codec orders a step, and ends when the model writes that event's first token."""
        return not row.yielded and row.pos == self.splits[row.block]

    def _next_step(self, row: _Row) -> int:
        """The step of the next kept event (the row's own step once the kept parts have ended)."""
        return self.blocks[row.block][0] if row.block < len(self.blocks) else row.now

    def snapped(self, ids: Sequence[int]) -> list[int]:
        """Generated ids with each TIME_SHIFT that went past a kept event cut to end there (as it counted)."""
        row, out = _Row(), []
        for token in ids:
            before = row.now
            self._advance(row, int(token))
            kind, value = self.layout.classify(int(token)) if token < self.codec.program_offset else ("", 0)
            out.append(
                self.layout.shift(row.now - before) if kind == "TIME_SHIFT" and row.now - before < value else int(token)
            )
        return out

    def _reserve(self, row: _Row) -> int:
        """Tokens that must still follow: the kept events and the shifts to them, the new part's NOTE_OFFs
        (and the instrument token before them), and EOS."""
        kept = self.cost[row.block] - TOKENS_PER_KEPT_EVENT * row.pos
        target = self.blocks[row.block][0] if row.block < len(self.blocks) else row.now
        return kept + math.ceil((target - row.now) / self.layout.num_shifts) + len(row.sounding) + 2

    def _allow(self, row: _Row, mask: torch.Tensor) -> None:
        layout = self.layout
        if row.done:
            mask[layout.eos_id] = True
            return
        silent = [p for p in range(NUM_PITCHES) if p not in row.sounding]
        if row.after_velocity:  # a VELOCITY of the new part: its NOTE_ON now
            mask[[layout.note_on(p) for p in silent]] = True
            return
        forced = self._forced(row)
        if forced is not None:
            mask[forced[0]] = True
            if not self._may_write(row):
                return
        elif row.block >= len(self.blocks):  # the kept parts have ended: release the new part, then end
            if row.sounding and row.current != self.new_slot:
                mask[self.codec.program_offset + self.new_slot] = True
            elif row.sounding:
                mask[[layout.note_off(p) for p in row.sounding]] = True
            else:
                mask[layout.eos_id] = True
            return
        room = self.max_events - row.count - self._reserve(row)  # tokens free for the model beyond what must come
        if forced is None:  # time may move on, never past the next kept event
            gap = self.blocks[row.block][0] - row.now
            longest = layout.shift(min(gap, layout.num_shifts))
            if room < 1:  # only the way to the next kept event
                mask[longest] = True
                return
            mask[layout.shift(1) : longest + 1] = True
            # A shift a little past the kept event stops there (see snapped): the model's own timing need not
            # fall on the primer's steps, and forbidding the shift it wants derails it.
            mask[longest + 1 : layout.shift(min(gap + SNAP_STEPS, layout.num_shifts)) + 1] = gap < layout.num_shifts
        if room < 1:
            return
        if row.current != self.new_slot:
            mask[self.codec.program_offset + self.new_slot] = True
            return
        if row.sounding:
            mask[[layout.note_off(p) for p in row.sounding]] = True
        if row.onsets >= MAX_CHORD or len(row.sounding) >= MAX_SOUNDING:
            return
        if silent and room >= 2 and row.velocity >= 0:
            mask[[layout.note_on(p) for p in silent]] = True
        if silent and room >= 3:
            mask[layout.velocity_offset : layout.velocity_offset + layout.velocity_bins] = True

    def _advance(self, row: _Row, token: int) -> None:
        if row.done:
            return
        row.count += 1
        forced = self._forced(row)
        if forced is not None and token == forced[0]:
            row.yielded = row.yielded or self._may_write(row)
            if forced[1]:
                row.pos += 1
                if row.pos == len(self.blocks[row.block][1]):
                    row.block, row.pos, row.yielded = row.block + 1, 0, False
        offset = self.codec.program_offset
        kind, value = self.layout.classify(token) if token < offset else ("INSTRUMENT", token - offset)
        row.after_velocity = kind == "VELOCITY" and (forced is None or token != forced[0])
        if kind == "INSTRUMENT":
            row.current = value
        elif kind == "VELOCITY":
            row.velocity = value
        elif kind == "TIME_SHIFT":
            row.now = min(row.now + value, self._next_step(row))
        elif kind == "EOS":
            row.done = True
        elif row.current == self.new_slot and kind in ("NOTE_ON", "NOTE_OFF"):
            (row.sounding.add if kind == "NOTE_ON" else row.sounding.discard)(value)
            row.onsets += kind == "NOTE_ON"
        if kind == "TIME_SHIFT":
            row.onsets = 0


def kept_blocks(codec: MultitrackCodec, kept: Sequence[int]) -> list[tuple[int, list[KeptEvent]]]:
    """The primer's note events by time step, as the codec orders them: per instrument in slot order, NOTE_OFFs
    before NOTE_ONs; each NOTE_ON with its velocity bin."""
    layout = codec.layout
    timeline: dict[int, list[KeptEvent]] = {}
    for track, notes in codec.decode_notes(kept).items():
        slot = codec.slot(track.program, track.is_drum)
        for note in notes:
            timeline.setdefault(note.end, []).append((slot, 0, note.pitch, 0))
            timeline.setdefault(note.start, []).append((slot, 1, note.pitch, layout.velocity_bin(note.velocity)))
    return [(step, sorted(timeline[step])) for step in sorted(timeline)]


def new_part_pieces(
    model: torch.nn.Module,
    codec: MultitrackCodec,
    primer: list[int],
    program: int,
    num_samples: int,
    settings: SamplingSettings,
    seed: int,
    max_note_seconds: float = 5.0,
    progress: Optional[Progress] = None,
) -> list[Piece]:
    """`num_samples` pieces of the primer's parts, kept note for note, with a new part for `program` (General
    MIDI, 128 for drums) written by the model under them; each piece lasts as long as the primer."""
    is_drum = program == DRUMS
    slot = codec.slot(0 if is_drum else program, is_drum)
    kept_slots = {codec.slot(t.program, t.is_drum) for t in codec.decode_notes(primer)}
    name = program_label(*codec.track(slot))
    if slot in kept_slots:
        raise StudioError(
            f"--new_part {name}: the primer already has a {name} part; choose another instrument, or remove that part"
        )
    if len(kept_slots) + 1 > codec.max_tracks:
        raise StudioError(
            f"--new_part {name}: the primer has {len(kept_slots)} instruments, the most this model plays "
            f"({codec.max_tracks}); use a primer of fewer parts"
        )
    probe = NewPartGrammar(codec, primer, slot, 0)
    allowance = int(NEW_EVENTS_PER_SECOND * probe.end * codec.step_seconds) + NEW_EVENTS_EXTRA
    grammar = NewPartGrammar(codec, primer, slot, probe.cost[0] + allowance)
    device = next(model.parameters()).device
    grammar.device = device
    try:
        rows = generate(model, [codec.bos_id], grammar.max_events, num_samples, settings, seed, grammar, None, progress)
    except GenerationInterrupted as stop:
        partial = [_piece(codec, grammar.snapped(row), slot, max_note_seconds) for row in stop.partial]
        raise GenerationInterrupted(partial) from None
    return [_piece(codec, grammar.snapped(row), slot, max_note_seconds) for row in rows]


def _piece(codec: MultitrackCodec, ids: list[int], new_slot: int, max_note_seconds: float) -> Piece:
    """The piece of generated ids: the kept parts as they came, the new part's notes at most max_note_seconds."""
    midi = codec.decode(ids)
    new = codec.track(new_slot)
    for instrument in midi.instruments:
        if (instrument.is_drum, instrument.program if not instrument.is_drum else 0) == (new.is_drum, new.program):
            for note in instrument.notes:
                note.end = min(note.end, note.start + max_note_seconds)
    midi.instruments = [i for i in midi.instruments if i.notes] or midi.instruments[:1]
    seconds = codec.seconds(ids)
    if midi.instruments and seconds > midi.get_end_time():
        midi.instruments[0].control_changes.append(pretty_midi.ControlChange(64, 0, seconds))
    return Piece(ids, midi, seconds)
