"""MidiGrammar: a batched sampling constraint so generated MIDI events are well formed and end cleanly."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.events import NUM_PITCHES
from studio.errors import StudioError

_SILENT = -1  # start step of a pitch that is not sounding
_NO_LIMIT = 1 << 40


class MidiGrammar:
    """Masks next tokens for B parallel samples: valid NOTE_OFFs, a target length, a clean EOS.

    Rules, per sample:
    - PAD and BOS are never allowed; NOTE_OFF only for sounding pitches; NOTE_ON only for silent pitches.
    - A VELOCITY must be followed by a NOTE_ON (the codec never emits anything else after one).
    - Note lengths are not capped here: forcing a NOTE_OFF derails the model, so pieces are trimmed to
      `--max_note_seconds` when they are written (see `studio.generation.midi`), as Magenta does.
    - No TIME_SHIFT may pass max_seconds. max_events counts every token given to update(), the final
      EOS included, and is never exceeded: room is always kept to switch off what sounds and end.
    - Once a target is reached only NOTE_OFFs of sounding notes are allowed, then EOS; after EOS the
      sample is finished() and only EOS is offered (its further tokens are ignored).
    - With no target at all, EOS is allowed whenever nothing sounds.
    - After prime(ids), every reset() starts from the state those events leave (a primer the samples
      continue); they count towards max_seconds and max_events like generated events.
    """

    # The per-sample tensors (batch first) that keep() narrows, and the others that follow the device.
    _STATE: tuple[str, ...] = ("now", "count", "start", "after_velocity", "done")
    _CONSTANTS: tuple[str, ...] = ("_shift_steps",)

    def __init__(
        self,
        codec: MidiCodec,
        max_seconds: float | None,
        max_events: int | None,
        device: torch.device | str = "cpu",
    ) -> None:
        if max_seconds is not None and not max_seconds > 0:
            raise StudioError(f"max_seconds={max_seconds!r} is invalid: use a positive number or None")
        if max_events is not None and max_events < 1:
            raise StudioError(f"max_events={max_events!r} is invalid: use a positive whole number or None")
        self.codec = codec
        layout = codec.layout
        step = codec.step_seconds
        # A tiny epsilon keeps e.g. 2.3 s / 0.01 s from flooring to 229 steps.
        self.max_steps = _NO_LIMIT if max_seconds is None else math.floor(max_seconds / step + 1e-6)
        self.max_events = _NO_LIMIT if max_events is None else int(max_events)
        self.has_target = max_seconds is not None or max_events is not None
        self.vocab_size = layout.vocab_size
        self._on = slice(layout.note_on_offset, layout.note_on_offset + NUM_PITCHES)
        self._off = slice(layout.note_off_offset, layout.note_off_offset + NUM_PITCHES)
        self._shift = slice(layout.shift_offset, layout.shift_offset + layout.num_shifts)
        self._vel = slice(layout.velocity_offset, layout.velocity_offset + layout.velocity_bins)
        self._eos = layout.eos_id
        self.device = torch.device(device)
        self._primer: list[int] = []
        self.reset(0)

    def prime(self, ids: Sequence[int]) -> None:
        """Make every later reset() replay these events first, so samples continue them."""
        primer = [int(t) for t in ids]
        if any(
            t in (self.codec.pad_id, self.codec.bos_id, self.codec.eos_id) or not 0 <= t < self.vocab_size
            for t in primer
        ):
            raise StudioError(
                "a primer must hold only NOTE_ON, NOTE_OFF, TIME_SHIFT and VELOCITY events: "
                "encode it with MidiCodec.encode (no BOS/EOS)"
            )
        self._primer = primer
        self.reset(self.batch_size)

    def reset(self, batch_size: int) -> None:
        """Start B new samples: empty, or just after the primer given to prime()."""
        dev = self.device
        self.batch_size = batch_size
        self.now = torch.zeros(batch_size, dtype=torch.long, device=dev)  # steps elapsed
        self.count = torch.zeros(batch_size, dtype=torch.long, device=dev)  # tokens emitted
        self.start = torch.full((batch_size, NUM_PITCHES), _SILENT, dtype=torch.long, device=dev)
        self.after_velocity = torch.zeros(batch_size, dtype=torch.bool, device=dev)
        self.done = torch.zeros(batch_size, dtype=torch.bool, device=dev)
        self._shift_steps = torch.arange(1, self._shift.stop - self._shift.start + 1, device=dev)
        for token in self._primer:
            self.update(torch.full((batch_size,), token, dtype=torch.long, device=dev))

    def keep(self, rows: torch.Tensor) -> None:
        """Narrow the batch to these rows (LongTensor [B'], in their new order); the others are dropped."""
        rows = rows.to(self.device)
        self.batch_size = int(rows.numel())
        for name in self._STATE:
            setattr(self, name, getattr(self, name).index_select(0, rows))

    def _move(self, device: torch.device) -> None:
        # Follow the sampler's device so masks come back where the logits live.
        self.device = device
        for name in (*self._STATE, *self._CONSTANTS):
            setattr(self, name, getattr(self, name).to(device))

    def allowed(self) -> torch.Tensor:
        """Bool [B, vocab_size]: True where a token may be emitted next."""
        sounding = self.start != _SILENT
        n_sounding = sounding.sum(1)
        # Tokens still to be spent after this one must cover one NOTE_OFF per sounding note plus EOS.
        room = self.max_events - self.count - n_sounding  # > 0 is the invariant
        closing = (self.now >= self.max_steps) | (room < 2)
        free = ~self.done & ~closing
        free_no_vel = free & ~self.after_velocity

        mask = torch.zeros(self.batch_size, self.vocab_size, dtype=torch.bool, device=self.device)
        mask[:, self._on] = (free & (room >= 3))[:, None] & ~sounding
        mask[:, self._off] = sounding & (free_no_vel | (closing & ~self.done))[:, None]
        shift_limit = self.max_steps - self.now
        mask[:, self._shift] = free_no_vel[:, None] & (self._shift_steps[None, :] <= shift_limit[:, None])
        # A VELOCITY needs a NOTE_ON (and that note's NOTE_OFF) to fit afterwards.
        mask[:, self._vel] = (free_no_vel & (room >= 4) & (n_sounding < NUM_PITCHES))[:, None]
        ending = (closing if self.has_target else torch.ones_like(closing)) & ~self.after_velocity
        mask[:, self._eos] = ending & (n_sounding == 0)
        # Finished samples only repeat EOS; and never hand the sampler an empty row.
        mask &= ~self.done[:, None]
        mask[:, self._eos] |= self.done | ~mask.any(1)
        return mask

    def update(self, tokens: torch.Tensor) -> None:
        """Advance every sample by the token it just emitted (LongTensor [B])."""
        if tokens.device != self.device:
            self._move(tokens.device)
        tokens = tokens.reshape(-1).long()
        live = ~self.done
        rows = torch.arange(self.batch_size, device=self.device)

        is_on = live & (tokens >= self._on.start) & (tokens < self._on.stop)
        is_off = live & (tokens >= self._off.start) & (tokens < self._off.stop)
        is_shift = live & (tokens >= self._shift.start) & (tokens < self._shift.stop)
        is_vel = live & (tokens >= self._vel.start) & (tokens < self._vel.stop)
        is_eos = live & (tokens == self._eos)

        pitch = torch.where(is_on, tokens - self._on.start, tokens - self._off.start).clamp(0, NUM_PITCHES - 1)
        touched = is_on | is_off
        new_start = torch.where(is_on, self.now, torch.full_like(self.now, _SILENT))
        current = self.start[rows, pitch]
        self.start[rows, pitch] = torch.where(touched, new_start, current)

        self.now += torch.where(is_shift, tokens - self._shift.start + 1, torch.zeros_like(tokens))
        self.after_velocity = is_vel
        self.count += live.long()
        self.done |= is_eos

    def finished(self) -> torch.Tensor:
        """Bool [B]: True once a sample has emitted its closing EOS."""
        return self.done.clone()

    def progress(self) -> float:
        """How far the slowest unfinished sample is towards its target length (seconds or events), in [0, 1]."""
        if self.batch_size == 0 or not self.has_target:
            return 0.0
        reached = torch.zeros(self.batch_size, device=self.device)
        if self.max_steps < _NO_LIMIT:
            reached = torch.maximum(reached, self.now.float() / self.max_steps)
        if self.max_events < _NO_LIMIT:
            reached = torch.maximum(reached, self.count.float() / self.max_events)
        return float(reached.masked_fill(self.done, 1.0).min().clamp(0.0, 1.0))
