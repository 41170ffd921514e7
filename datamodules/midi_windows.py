"""The examples of a MIDI split: pieces split by file, and independent, augmented windows of their event stream.

Each example is a window of `window + 1` events of a split's joined stream giving (inputs, targets)
shifted by one, transposed and stretched at random for training, with the controls of its targets
when the data asks for them; drums are never transposed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.midi_encoding import EventCodec
from datamodules.midi_stream import JoinedPieces
from studio.codecs.midi import MidiCodec
from studio.codecs.midi.controls import DENSITY_WINDOW_S, HISTOGRAM_WINDOW_S, control_slices, shift_steps
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError


def split_by_file(paths: Sequence[Path], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and validation pieces: whole files, chosen by a seeded hash of each file's name.

    Ranking by a hash of names (not by position) gives the same split wherever the collection lives, and
    mostly the same one when files are added.
    """
    if len(paths) < 2:
        raise StudioError(
            f"only {len(paths)} usable MIDI file: the validation split takes whole files, "
            "so give at least 2 (more is better)"
        )
    rank = sorted(
        range(len(paths)), key=lambda i: (hashlib.sha1(f"{seed}:{paths[i].name}".encode()).hexdigest(), str(paths[i]))
    )
    n_val = min(len(paths) - 1, max(1, round(len(paths) * val_fraction)))
    val = sorted(rank[:n_val])
    return sorted(rank[n_val:]), val


def window_starts(lengths: Sequence[int], window: int, stride: int) -> np.ndarray:
    """Rows (piece, start) of every window of window + 1 ids, `stride` apart, the last one flush with the piece's end."""
    parts = [np.zeros((0, 2), dtype=np.int64)]
    for piece, n in enumerate(lengths):
        last = n - (window + 1)
        if last < 0:
            continue
        offsets = np.arange(0, last + 1, stride, dtype=np.int64)
        if offsets[-1] != last:  # so the ending of every piece is trained on too
            offsets = np.append(offsets, last)
        parts.append(np.stack([np.full_like(offsets, piece), offsets], axis=1))
    return np.concatenate(parts)


class MidiWindows(Dataset):
    """Map-style windows of pieces as (inputs, targets) LongTensors of length `window`; optional augmentation.

    With a codec that has controls, items are (inputs, targets, controls): the controls of each target
    event, computed on the augmented events (looking ahead past the window as far as the controls see),
    each control group zeroed for the whole window with probability `control_dropout`.
    With a MultitrackCodec, transposition follows the instrument in force where the window's ids begin
    (read back in the stream), so drum notes are never transposed, even in a window that starts among them.
    """

    def __init__(
        self,
        pieces: Sequence[Union[np.ndarray, JoinedPieces]],
        codec: EventCodec,
        window: int,
        stride: int,
        transpose: int = 0,
        stretch: Optional[tuple[float, float]] = None,
        control_dropout: float = 0.0,
    ) -> None:
        self.pieces, self.codec, self.window = list(pieces), codec, window
        self.transpose, self.stretch, self.control_dropout = transpose, stretch, control_dropout
        self._controlled = isinstance(codec, MidiCodec) and bool(codec.controls)
        self.index = window_starts([len(p) for p in self.pieces], window, stride)
        layout = codec.layout
        self._notes = (layout.note_on_offset, layout.shift_offset)  # NOTE_ON and NOTE_OFF ids, contiguous
        slowest = stretch[0] if stretch is not None else 1.0
        self._ahead_steps = math.ceil(
            max(DENSITY_WINDOW_S, HISTOGRAM_WINDOW_S) / codec.step_seconds / min(1.0, slowest)
        )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        if isinstance(self.codec, MultitrackCodec):
            return self._instruments_item(i)
        piece, start = self.index[i]
        ids = self.pieces[piece]
        need = self.window + 1
        end = self._lookahead_end(piece, start + need) if self._controlled else start + need
        seq = ids[start:end]
        if self.stretch is not None:
            seq = self._stretched(ids, start, end)
        if self.transpose:
            seq = self._transposed(seq)
        window = torch.as_tensor(np.asarray(seq[:need], dtype=np.int64))
        if not self._controlled:
            return window[:-1], window[1:]
        assert isinstance(self.codec, MidiCodec)
        controls = torch.from_numpy(self.codec.control_frames(seq)[1:need])
        for columns in control_slices(self.codec.controls).values():
            if self.control_dropout and float(torch.rand(())) < self.control_dropout:
                controls[:, columns] = 0.0
        return window[:-1], window[1:], controls

    def _instruments_item(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        # Transposition commutes with stretching (one changes notes, the other TIME_SHIFTs), so the ids the
        # window may be cut from are transposed first, each with the instrument in force where they begin.
        piece, start = self.index[i]
        ids, need = self.pieces[piece], self.window + 1
        margin = self.window // 4 + 16 if self.stretch is not None else 0
        shift = self._draw_shift(np.asarray(ids[max(0, start - margin) : start + need + margin]))

        def read(lo: int, hi: int) -> np.ndarray:
            return self._shifted(ids, lo, hi, shift)

        seq = self._stretched(ids, start, start + need, read) if self.stretch is not None else read(start, start + need)
        window = torch.as_tensor(np.asarray(seq[:need], dtype=np.int64))
        return window[:-1], window[1:]

    def _draw_shift(self, seq: np.ndarray) -> int:
        # Among the shifts that keep every note of these ids (drums too, to be safe) inside 0..127.
        lo_id, hi_id = self._notes
        notes = seq[(seq >= lo_id) & (seq < hi_id)]
        if not self.transpose or notes.size == 0:
            return 0
        pitches = (notes - lo_id) % 128
        down = max(-self.transpose, -int(pitches.min()))
        up = min(self.transpose, 127 - int(pitches.max()))
        return int(torch.randint(down, up + 1, ()))

    def _shifted(self, ids: Union[np.ndarray, JoinedPieces], lo: int, hi: int, shift: int) -> np.ndarray:
        seq = np.asarray(ids[lo:hi], dtype=np.int64)
        if shift == 0:
            return seq
        codec = self.codec
        assert isinstance(codec, MultitrackCodec)
        drums = codec.program_offset + codec.drum_slot
        in_force = [drums] if self._instrument_before(ids, lo) == drums else []
        shifted = codec.transpose([*in_force, *seq.tolist()], shift)
        assert shifted is not None  # the shift was drawn to keep these notes in range
        return np.asarray(shifted[len(in_force) :], dtype=np.int64)

    def _instrument_before(self, ids: Union[np.ndarray, JoinedPieces], at: int) -> int:
        # The last PROGRAM or DRUMS id before `at` in its piece; the BOS id when none (program 0's notes).
        codec = self.codec
        assert isinstance(codec, MultitrackCodec)
        first, chunk = codec.program_offset, 512
        while at > 0:
            lo = max(0, at - chunk)
            block = np.asarray(ids[lo:at])
            hits = np.flatnonzero((block >= first) | (block == codec.bos_id))
            if hits.size:
                return int(block[hits[-1]])
            at, chunk = lo, chunk * 2
        return codec.bos_id

    def _lookahead_end(self, piece: int, end: int) -> int:
        # Past the window's end by as much music as the controls look at (more when stretched slower): up to
        # and including the first event more than that many steps after the window's last one.
        ids, at, elapsed, chunk = self.pieces[piece], end, 0, 256
        while at < len(ids):
            steps = elapsed + np.cumsum(shift_steps(np.asarray(ids[at : at + chunk]), self.codec.layout))
            beyond = int(np.searchsorted(steps, self._ahead_steps, side="right"))
            if beyond < len(steps):
                return at + beyond + 1
            at, elapsed, chunk = at + len(steps), int(steps[-1]), chunk * 2
        return len(ids)

    def _stretched(
        self,
        ids: Union[np.ndarray, JoinedPieces],
        start: int,
        end: int,
        read: Optional[Callable[[int, int], Any]] = None,
    ) -> np.ndarray:
        # Re-quantized timing changes how many TIME_SHIFTs there are, so stretch a little more than
        # needed and crop; near a piece's end, take the margin from before the window instead.
        # `read(lo, hi)`: the ids lo..hi to stretch (ids[lo:hi] unless given).
        read = read or (lambda lo, hi: ids[lo:hi])
        need, margin = self.window + 1, self.window // 4 + 16
        low, high = self.stretch  # type: ignore[misc]
        factor = low + (high - low) * float(torch.rand(()))
        after = self.codec.stretch(read(start, end + margin), factor)
        if len(after) >= need:
            return np.asarray(after if self._controlled else after[:need], dtype=np.int64)
        before = self.codec.stretch(read(max(0, start - margin), start + need), factor)
        if len(before) >= need:
            return np.asarray(before[-need:], dtype=np.int64)
        return np.asarray(read(start, start + need))  # a piece barely longer than a window: leave its timing alone

    def _transposed(self, seq: np.ndarray) -> np.ndarray:
        # Draw the shift among those that keep this window's own notes inside 0..127 (0 always qualifies).
        lo_id, hi_id = self._notes
        notes = seq[(seq >= lo_id) & (seq < hi_id)]
        if notes.size == 0:
            return seq
        pitches = (notes - lo_id) % 128
        down = max(-self.transpose, -int(pitches.min()))
        up = min(self.transpose, 127 - int(pitches.max()))
        shift = int(torch.randint(down, up + 1, ()))
        if shift == 0:
            return seq
        shifted = self.codec.transpose(seq.tolist(), shift)
        assert shifted is not None  # the range above guarantees it
        return np.asarray(shifted, dtype=np.int64)
