"""MultitrackGrammar: MidiGrammar's rules for several instruments (MultitrackCodec's PROGRAM and DRUMS tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch

from studio.codecs.midi.events import NUM_PITCHES
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError
from studio.generation.midi_grammar import MidiGrammar
from studio.generation.tasks.midi import DRUMS, program_label


class MultitrackGrammar(MidiGrammar):
    """MidiGrammar over several instruments: notes are tracked per (instrument, pitch).

    On top of MidiGrammar's rules (lengths, VELOCITY then NOTE_ON, a clean EOS):
    - An instrument token (PROGRAM or DRUMS) makes that instrument current, as in the codec; before the
      first one the current instrument is program 0. It is never followed by the same instrument's token,
      and never comes right after a VELOCITY.
    - NOTE_OFF only for a note sounding in the current instrument; NOTE_ON (and the VELOCITY before it)
      only for a silent pitch of the current instrument, and only when that instrument is one of
      `programs` (General MIDI numbers, DRUMS for the kit; folded as the codec folds; all by default).
    - At most the codec's max_tracks instruments play in a piece (so it can be encoded again): once that
      many have, NOTE_ONs go only to those.
    - Instrument tokens go to instruments that may play, or to one with notes still sounding (a primer's)
      so that they can be released.
    - Room is always kept to release every sounding note of every instrument (one instrument token per
      other instrument with sounding notes, one NOTE_OFF per note) and end; once a target is reached the
      current instrument's notes are released, then each other instrument's in turn, then EOS.
    """

    _STATE = ("now", "count", "sounding", "played", "current", "after_velocity", "done")
    _CONSTANTS = ("_shift_steps", "chosen")

    def __init__(
        self,
        codec: MultitrackCodec,
        max_seconds: float | None,
        max_events: int | None,
        device: torch.device | str = "cpu",
        programs: Optional[Sequence[int]] = None,
    ) -> None:
        self.slots = codec.drum_slot + 1
        self.chosen = torch.zeros(self.slots, dtype=torch.bool, device=torch.device(device))
        if programs is None:
            self.chosen[:] = True
        else:
            if not programs:
                raise StudioError("programs is empty: choose at least one instrument, or None for all")
            for program in programs:
                if not 0 <= int(program) <= DRUMS:
                    raise StudioError(
                        f"program {program!r} is invalid: General MIDI programs are 0..127 (drums {DRUMS})"
                    )
                self.chosen[codec.slot(int(program), int(program) == DRUMS)] = True
        super().__init__(codec, max_seconds, max_events, device)  # type: ignore[arg-type]
        self.vocab_size = codec.vocab_size
        self.max_tracks = codec.max_tracks
        self._instruments = slice(codec.program_offset, codec.program_offset + self.slots)

    def chosen_programs(self) -> list[str]:
        """The instruments NOTE_ONs may be given to, named (folded as the codec folds)."""
        codec: MultitrackCodec = self.codec  # type: ignore[assignment]
        return [program_label(*codec.track(slot)) for slot in range(self.slots) if bool(self.chosen[slot])]

    def reset(self, batch_size: int) -> None:
        """Start B new samples: empty, or just after the primer given to prime()."""
        dev = self.device
        self.batch_size = batch_size
        self.now = torch.zeros(batch_size, dtype=torch.long, device=dev)
        self.count = torch.zeros(batch_size, dtype=torch.long, device=dev)
        self.sounding = torch.zeros(batch_size, self.slots, NUM_PITCHES, dtype=torch.bool, device=dev)
        self.played = torch.zeros(batch_size, self.slots, dtype=torch.bool, device=dev)  # has had a NOTE_ON
        self.current = torch.zeros(batch_size, dtype=torch.long, device=dev)  # program 0 until a token says
        self.after_velocity = torch.zeros(batch_size, dtype=torch.bool, device=dev)
        self.done = torch.zeros(batch_size, dtype=torch.bool, device=dev)
        self._shift_steps = torch.arange(1, self._shift.stop - self._shift.start + 1, device=dev)
        for token in self._primer:
            self.update(torch.full((batch_size,), token, dtype=torch.long, device=dev))

    def allowed(self) -> torch.Tensor:
        """Bool [B, vocab_size]: True where a token may be emitted next."""
        rows = torch.arange(self.batch_size, device=self.device)
        here = self.sounding[rows, self.current]  # [B, 128]: the current instrument's sounding pitches
        held = self.sounding.any(2)  # [B, slots]: instruments with sounding notes
        held_here = held[rows, self.current]
        n_sounding = self.sounding.sum((1, 2))
        n_elsewhere = held.sum(1) - held_here.long()  # instruments to switch to before their NOTE_OFFs
        # Tokens still to be spent after this one must release every note (and reach its instrument) plus EOS.
        room = self.max_events - self.count - n_sounding - n_elsewhere  # > 0 is the invariant
        closing = (self.now >= self.max_steps) | (room < 2)
        free = ~self.done & ~closing
        free_no_vel = free & ~self.after_velocity
        # Instruments that may start a note: chosen, and among the first max_tracks to play.
        may_play = self.chosen[None, :] & (self.played | (self.played.sum(1) < self.max_tracks)[:, None])
        playable = may_play[rows, self.current]

        mask = torch.zeros(self.batch_size, self.vocab_size, dtype=torch.bool, device=self.device)
        mask[:, self._on] = (free & (room >= 3) & (playable | self.after_velocity))[:, None] & ~here
        mask[:, self._off] = here & (free_no_vel | (closing & ~self.done))[:, None]
        shift_limit = self.max_steps - self.now
        mask[:, self._shift] = free_no_vel[:, None] & (self._shift_steps[None, :] <= shift_limit[:, None])
        # A VELOCITY needs a NOTE_ON (and that note's NOTE_OFF) of the current instrument to fit afterwards.
        mask[:, self._vel] = (free_no_vel & (room >= 4) & playable & (here.sum(1) < NUM_PITCHES))[:, None]
        other = torch.ones(self.batch_size, self.slots, dtype=torch.bool, device=self.device)
        other[rows, self.current] = False
        # Leaving an instrument with sounding notes costs a token to come back; reaching one saves that token.
        change = held_here.long()[:, None] - held.long()
        switch = free_no_vel[:, None] & (may_play | held) & (room[:, None] >= 2 + change)
        release = (closing & ~self.done & ~self.after_velocity & ~held_here)[:, None] & held
        mask[:, self._instruments] = other & (switch | release)
        ending = (closing if self.has_target else torch.ones_like(closing)) & ~self.after_velocity
        mask[:, self._eos] = ending & (n_sounding == 0)
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
        is_instrument = live & (tokens >= self._instruments.start) & (tokens < self._instruments.stop)
        is_eos = live & (tokens == self._eos)

        pitch = torch.where(is_on, tokens - self._on.start, tokens - self._off.start).clamp(0, NUM_PITCHES - 1)
        was = self.sounding[rows, self.current, pitch]
        self.sounding[rows, self.current, pitch] = torch.where(is_on | is_off, is_on, was)
        self.played[rows, self.current] |= is_on
        slot = (tokens - self._instruments.start).clamp(0, self.slots - 1)
        self.current = torch.where(is_instrument, slot, self.current)

        self.now += torch.where(is_shift, tokens - self._shift.start + 1, torch.zeros_like(tokens))
        self.after_velocity = is_vel
        self.count += live.long()
        self.done |= is_eos
