"""TextDataModule: a corpus (files, a folder, or a named corpus) as stateful TBPTT streams of token ids.

The ids live in a token store in the cache (see datamodules/token_store.py), prepared once in bounded
memory by `prepare_store()` (which `studio fit` calls in every process before the Trainer exists), or
else the first time the codec, `model_dims()` or the data is asked for, and memory-mapped after that:
resident memory does not grow with the corpus, and every DDP rank maps the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from datamodules.base import BatchShape, PreparedStore, StudioDataModule, folder_size
from datamodules.corpora import corpus_source
from datamodules.streams import StreamBatches
from datamodules.token_store import TokenStore, token_store
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.io import cache_root


class TextDataModule(StudioDataModule):
    """Character (or byte-level BPE) language-modelling data with a contiguous train/validation split."""

    def __init__(
        self,
        path: Optional[str] = None,
        corpus: str = "lady_susan",
        encoding: str = "utf-8",
        val_fraction: float = 0.1,
        batch_size: int = 32,
        seq_len: int = 128,
        val_batch_size: int = 8,
        tokenizer: str = "char",
        bpe_vocab_size: int = 512,
        cache_dir: Optional[str] = None,
    ) -> None:
        """`path` (a file or folder) wins over `corpus` (a built-in or downloadable corpus name)."""
        super().__init__()
        self.save_hyperparameters()
        if not 0.0 < val_fraction < 1.0:
            raise StudioError(
                f"val_fraction={val_fraction} is outside (0, 1): pass e.g. --data.init_args.val_fraction 0.1"
            )
        if batch_size < 1 or val_batch_size < 1 or seq_len < 1:
            raise StudioError("batch_size, val_batch_size and seq_len must be positive integers")
        self.path, self.corpus, self.encoding = path, corpus, encoding
        self.val_fraction = val_fraction
        self.batch_size, self.seq_len, self.val_batch_size = batch_size, seq_len, val_batch_size
        self.tokenizer_level, self.bpe_vocab_size = tokenizer, bpe_vocab_size
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        self._store: Optional[TokenStore] = None

    # -- corpus, vocabulary and the token store --------------------------------------------
    def _load(self) -> TokenStore:
        """The corpus's token store, prepared once into the cache (bounded memory) and memory-mapped."""
        if self._store is None:
            source = corpus_source(self.path, self.corpus, self.encoding, self.cache_dir / "corpora")
            self._store = token_store(
                source, self.tokenizer_level, self.bpe_vocab_size, self.cache_dir, self.val_fraction
            )
        return self._store

    def prepare_store(self) -> PreparedStore:
        """Prepare the token store unless it is in the cache (other processes wait on its lock), and map it."""
        store = self._load()
        contents = f"{len(store.ids):,} tokens of {store.meta['source']['name']}, vocabulary {store.codec.vocab_size:,}"
        return PreparedStore(
            "token store", store.folder, folder_size(store.folder), contents, store.built, self.cache_dir
        )

    def prepare_data(self) -> None:
        """Ready already when `studio fit` runs (see `prepare_store`); otherwise prepared here."""
        self._load()

    def setup(self, stage: Optional[str] = None) -> None:
        """Map the token store (prepared by now, unless another process still holds its lock)."""
        self._load()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (spawned workers, DDP spawn) without the memory map: each process maps the store itself."""
        return {**self.__dict__, "_store": None}

    @property
    def codec(self) -> TextCodec:
        """The tokenizer built from the corpus (it travels inside every checkpoint)."""
        return self._load().codec

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides: the vocabulary, its line break, and stateful training over contiguous streams."""
        return {"vocab_size": self.codec.vocab_size, "line_break_id": self.codec.line_break_id, "stateful": True}

    def batch_shape(self) -> BatchShape:
        """B streams of up to seq_len steps (fewer when a stream is shorter), training's or validation's, the larger."""
        shapes = []
        for ids, rows, name in zip(self.split(), (self.batch_size, self.val_batch_size), ("", "val_")):
            steps = min(self.seq_len, max(1, (len(ids) - 1) // rows))
            shapes.append(BatchShape(rows, steps, (f"{name}batch_size", "seq_len")))
        return max(shapes, key=lambda shape: shape.rows * shape.steps)

    def split(self) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous train and validation token ids (validation is the corpus's tail), as memory-mapped views."""
        return self._load().split(self.val_fraction)

    # -- loaders -----------------------------------------------------------------------------
    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _streams(self, ids: np.ndarray, batch_size: int, split: str, consumed: Any = None) -> StreamBatches:
        rank, world = self._rank()
        if len(ids) - 1 < batch_size * world:
            raise StudioError(
                f"the {split} split has {len(ids)} tokens, too few for {batch_size * world} streams: "
                f"use a bigger corpus, a larger val_fraction, or a smaller {'val_' if split == 'validation' else ''}batch_size"
            )
        return StreamBatches(ids, batch_size, self.seq_len, rank, world, consumed)

    def train_dataloader(self) -> StreamBatches:
        """B contiguous streams per rank; position tracked by what the trainer consumed, for exact resume."""
        trainer = self.trainer
        consumed = (lambda: trainer.fit_loop.epoch_loop.batch_progress.current.processed) if trainer else None  # type: ignore[attr-defined]
        return self._streams(self.split()[0], self.batch_size, "training", consumed)

    def val_dataloader(self) -> StreamBatches:
        """The whole validation split, read statefully."""
        return self._streams(self.split()[1], self.val_batch_size, "validation")

    def test_dataloader(self) -> StreamBatches:
        """The validation split (text corpora have no separate test split)."""
        return self.val_dataloader()
