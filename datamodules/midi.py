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

import os
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch.utils.data import DataLoader

from datamodules.base import BatchShape, PreparedStore, StudioDataModule, folder_size
from datamodules.midi_collections import COLLECTIONS, CollectionFiles, split_indices
from datamodules.midi_encoding import EventCodec
from datamodules.midi_sources import find_midi_files, named_corpus_files
from datamodules.midi_store import MidiStore, midi_store, store_folder
from datamodules.midi_stream import JoinedPieces
from datamodules.midi_windows import MidiWindows, split_by_file
from studio.codecs.midi import MidiCodec
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError
from studio.io import cache_root


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
        """`paths` wins over `corpus` ("bach_chorales" or "ryans_mammoth", converted once from music21; or
        "maestro", "lakh", "lakh_clean", downloaded once; MAESTRO's own train/validation/test split is kept).

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
        self._named: Optional[CollectionFiles] = None
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
        """The MIDI files to use: found under `paths`, or those of the named corpus (downloaded or converted once)."""
        if self.paths:
            found = find_midi_files(self.paths)
            return found[: self.limit] if self.limit else found
        if self._named is None:
            self._named = named_corpus_files(self.corpus, self.limit, self.cache_dir)
        return self._named.files

    def encoded(self) -> MidiStore:
        """The collection's store (encoded once, memory-mapped); unreadable files are skipped, named in a warning."""
        if self._store is None:
            if self.paths:
                items = [self.paths] if isinstance(self.paths, str) else list(self.paths)
                inputs = [os.path.abspath(str(item)) for item in items]
            else:
                inputs = [f"{'collection' if self.corpus in COLLECTIONS else 'music21'}:{self.corpus}"]
            folder = store_folder(self.cache_dir, inputs, self.limit, self.codec)
            self._store = midi_store(self.files(), self.codec, folder, self.encode_workers)
            self.skipped = self._store.skipped
        return self._store

    def _load(self) -> dict[str, list[int]]:
        if self._splits is None:
            store = self.encoded()
            named = None if self.paths or self._named is None else self._named.splits
            if named is None:  # no published split: whole files drawn by a seeded hash; test is validation
                train, val = split_by_file(store.files, self.val_fraction, self.seed)
                self._splits = {"train": train, "val": val, "test": val}
            else:  # the collection's own split, file by file
                self._splits = split_indices(store.files, named, self.corpus)
        return self._splits

    def split_files(self, split: str) -> list[Path]:
        """The files of `split`: "train", "val" or "test"."""
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
        """The test windows: a collection's own test split (MAESTRO's), else the validation windows."""
        return self._loader("test", shuffle=False)
