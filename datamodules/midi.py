"""MidiDataModule: a MIDI collection (or music21's Bach chorales) as independent, augmented windows of event ids.

Loading is lazy: `__init__` only checks arguments and builds the codec (which alone decides the
vocabulary), so `studio fit` can size the model at once. Files are encoded once, in parallel, into
the MIDI store in the cache (`prepare_store`, under a lock; see midi_store), which `studio fit` calls
in every process before the Trainer exists and `studio prepare` calls alone; every rank maps the
same shards, and only files added since are encoded on a later run.

Pieces are split by file, so no piece is heard in both splits. Each split's pieces are joined
into one stream (BOS, events, EOS, BOS, ...), and each example is a window of `window + 1` events
of it giving (inputs, targets) shifted by one; windows are independent and shuffled, so the model
should run with `stateful: false`. With `controls`, each example also holds the controls of its
targets (Performance RNN's note density and pitch-class histogram; see studio.codecs.midi.controls).
With `instruments`, pieces are encoded with MultitrackCodec (a PROGRAM or DRUMS token before each
instrument's notes) instead of as one piano performance; augmentation never transposes drums.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.base import BatchShape, PreparedStore, StudioDataModule, folder_size
from datamodules.midi_encoding import EventCodec
from datamodules.midi_sources import find_midi_files, music21_corpus_files
from datamodules.midi_store import MidiStore, midi_store, store_folder
from datamodules.midi_stream import JoinedPieces
from studio.codecs.midi import MidiCodec
from studio.codecs.midi.controls import DENSITY_WINDOW_S, HISTOGRAM_WINDOW_S, control_slices, shift_steps
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError
from studio.io import cache_root


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


class MidiDataModule(StudioDataModule):
    """Event-id windows of MIDI files (folders, files, globs) or of an embedded music21 corpus."""

    def __init__(
        self,
        paths: Optional[Union[list[str], str]] = None,
        corpus: str = "bach_chorales",
        limit: Optional[int] = None,
        resolution_ms: int = 10,
        max_shift_ms: int = 1000,
        velocity_bins: int = 32,
        keep_drums: bool = False,
        instruments: bool = False,
        programs: Optional[str] = None,
        max_tracks: Optional[int] = None,
        controls: Optional[list[str]] = None,
        control_dropout: float = 0.25,
        window: int = 256,
        stride: int = 128,
        batch_size: int = 32,
        val_batch_size: Optional[int] = None,
        val_fraction: float = 0.1,
        transpose: int = 3,
        stretch: Optional[tuple[float, float]] = (0.95, 1.05),
        seed: int = 0,
        num_workers: int = 0,
        encode_workers: Optional[int] = None,
        cache_dir: Optional[str] = None,
        workers: Optional[int] = None,
    ) -> None:
        """`paths` wins over `corpus` ("bach_chorales" or "ryans_mammoth", converted once from music21).

        `instruments` encodes several instruments (MultitrackCodec: a PROGRAM or DRUMS token before each
        instrument's notes, drums always kept) instead of one piano performance; with it, `programs`
        ("all", the default, or "family": the 16 General MIDI families) and `max_tracks` (16: the most
        instruments a piece may have; a piece with more is skipped, named in the warning) set the codec.
        `controls` ("density", "pitch_histogram") trains the model with Performance RNN's control
        inputs, so `studio sample --notes_per_second / --pitch_class_histogram` can steer it; during
        training each control is left out (zeros) of a window with probability `control_dropout`.
        `num_workers` are the DataLoader's worker processes, `encode_workers` the processes that encode
        new MIDI files (default: one per core; `workers` is its old name, still read from saved configs).
        `cache_dir` is the Studio cache folder (default `$STUDIO_CACHE` or ~/.cache/studio).
        """
        super().__init__()
        self.save_hyperparameters()
        if window < 2 or stride < 1 or batch_size < 1 or (val_batch_size is not None and val_batch_size < 1):
            raise StudioError(
                "window must be >= 2 and stride, batch_size and val_batch_size >= 1: "
                "e.g. --data.init_args.window 256 --data.init_args.stride 128"
            )
        if not 0.0 < val_fraction < 1.0:
            raise StudioError(
                f"val_fraction={val_fraction} is outside (0, 1): pass e.g. --data.init_args.val_fraction 0.1"
            )
        if limit is not None and limit < 2:
            raise StudioError(f"limit={limit} is too small: the split needs at least 2 files (or leave limit unset)")
        if not 0 <= transpose <= 24:
            raise StudioError(f"transpose={transpose} must be 0..24 semitones (0 turns transposition off)")
        if stretch is not None:
            stretch = (float(stretch[0]), float(stretch[1]))
            if not 0.0 < stretch[0] <= stretch[1]:
                raise StudioError(
                    f"stretch={list(stretch)} must be [low, high] with 0 < low <= high, e.g. [0.95, 1.05]"
                )
        if not 0.0 <= control_dropout < 1.0:
            raise StudioError(
                f"control_dropout={control_dropout} is outside [0, 1): pass e.g. --data.init_args.control_dropout 0.25"
            )
        encode_workers = encode_workers if workers is None else workers  # `workers`: the old name, in saved configs
        if num_workers < 0 or (encode_workers is not None and encode_workers < 0):
            raise StudioError("num_workers (DataLoader) and encode_workers (MIDI encoding) must be >= 0")
        self._codec: EventCodec
        if instruments:
            if controls:
                raise StudioError(
                    "controls are not available with instruments yet: drop --data.init_args.controls "
                    "or --data.init_args.instruments"
                )
            self._codec = MultitrackCodec(
                resolution_ms, max_shift_ms, velocity_bins, programs or "all", 16 if max_tracks is None else max_tracks
            )
        elif programs is not None or max_tracks is not None:
            raise StudioError(
                "programs and max_tracks set the codec of several instruments: "
                "add --data.init_args.instruments true, or leave them out"
            )
        else:
            self._codec = MidiCodec(resolution_ms, max_shift_ms, velocity_bins, keep_drums, tuple(controls or ()))
        self.control_dropout = control_dropout
        self.paths, self.corpus, self.limit = paths, corpus, limit
        self.window, self.stride, self.seed = window, stride, seed
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.val_fraction, self.transpose = val_fraction, transpose
        self.stretch = None if stretch is None or stretch == (1.0, 1.0) else stretch
        self.num_workers, self.encode_workers = num_workers, encode_workers
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        self.skipped: list[Path] = []
        self._store: Optional[MidiStore] = None
        self._splits: Optional[dict[str, list[int]]] = None
        self._datasets: dict[str, MidiWindows] = {}

    @property
    def codec(self) -> EventCodec:
        """The event codec (its settings decide the ids; it travels inside every checkpoint)."""
        return self._codec

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides: the vocabulary and the controls' width (from the codec alone),
        and no state carried between batches (windows are independent)."""
        dims: dict[str, Any] = {"vocab_size": self.codec.vocab_size, "stateful": False}
        codec = self.codec
        return {**dims, "control_dim": codec.control_dim} if isinstance(codec, MidiCodec) and codec.controls else dims

    def batch_shape(self) -> BatchShape:
        """Batches of windows of `window` events (the larger of the training and validation batch sizes)."""
        if self.val_batch_size > self.batch_size:
            return BatchShape(self.val_batch_size, self.window, ("val_batch_size", "window"))
        return BatchShape(self.batch_size, self.window, ("batch_size", "window"))

    # -- files, encoding and the split ---------------------------------------------------------
    def files(self) -> list[Path]:
        """The MIDI files to use: found under `paths`, or converted from the music21 corpus."""
        if self.paths:
            found = find_midi_files(self.paths)
            return found[: self.limit] if self.limit else found
        return music21_corpus_files(self.corpus, self.limit, self.cache_dir / "music21")

    def encoded(self) -> MidiStore:
        """The collection's store (encoded once, memory-mapped); unreadable files are skipped, named in a warning."""
        if self._store is None:
            if self.paths:
                items = [self.paths] if isinstance(self.paths, str) else list(self.paths)
                inputs = [os.path.abspath(str(item)) for item in items]
            else:
                inputs = [f"music21:{self.corpus}"]
            folder = store_folder(self.cache_dir, inputs, self.limit, self.codec)
            self._store = midi_store(self.files(), self.codec, folder, self.encode_workers)
            self.skipped = self._store.skipped
        return self._store

    def _load(self) -> dict[str, list[int]]:
        if self._splits is None:
            train, val = split_by_file(self.encoded().files, self.val_fraction, self.seed)
            self._splits = {"train": train, "val": val}
        return self._splits

    def split_files(self, split: str) -> list[Path]:
        """The files of "train" or "val"."""
        return [self.encoded().files[i] for i in self._load()[split]]

    def stream(self, split: str) -> JoinedPieces:
        """The pieces of `split` as one stream, each as BOS, events, EOS (read from the store on demand)."""
        return self.encoded().joined(self._load()[split], self.codec)

    def dataset(self, split: str) -> MidiWindows:
        """Windows of `split`: training ones overlap (`stride`) and are augmented; validation ones do not."""
        # Windows run across piece boundaries (EOS, BOS), so no piece is too short to use and every
        # window is full; the model learns that a BOS starts afresh.
        stream = self.stream(split)
        if len(stream) < self.window + 1:
            raise StudioError(
                f"the {split} split has {len(stream)} events, fewer than window={self.window} + 1: "
                "lower --data.init_args.window or add MIDI files"
            )
        training = split == "train"
        return MidiWindows(
            [stream],
            self.codec,
            self.window,
            self.stride if training else self.window,
            self.transpose if training else 0,
            self.stretch if training else None,
            self.control_dropout if training else 0.0,
        )

    # -- preparation and Lightning hooks ------------------------------------------------------
    def prepare_store(self) -> PreparedStore:
        """Encode every new file into the store (one process at a time, the others wait on its lock), map it,
        and draw the split (so a collection too small for it stops here, before training starts)."""
        store = self.encoded()
        self._load()
        skipped = f", {len(store.skipped):,} unusable files skipped" if store.skipped else ""
        contents = f"{len(store.files):,} pieces, {store.total_tokens:,} events{skipped}"
        return PreparedStore(
            "MIDI store", store.folder, folder_size(store.folder), contents, store.built, self.cache_dir
        )

    def prepare_data(self) -> None:
        """Ready already when `studio fit` runs (see `prepare_store`); otherwise encoded here."""
        self.encoded()

    def setup(self, stage: Optional[str] = None) -> None:
        """Map the store and build the split's datasets."""
        for split in ("train", "val") if stage in (None, "fit") else ("val",):
            if split not in self._datasets:
                self._datasets[split] = self.dataset(split)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self._datasets:
            self._datasets[split] = self.dataset(split)
        workers = self.num_workers
        # A map-style dataset: under DDP Lightning swaps in a DistributedSampler, so ranks see different windows.
        return DataLoader(
            self._datasets[split],
            batch_size=self.batch_size if shuffle else self.val_batch_size,
            shuffle=shuffle,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled, augmented training windows."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Non-overlapping validation windows, in order."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """The validation windows (a MIDI collection has no separate test split)."""
        return self.val_dataloader()
