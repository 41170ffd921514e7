"""TextDataModule: a corpus (files, a folder, or a named corpus) as stateful TBPTT streams of token ids."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Optional

import torch

from datamodules.base import StudioDataModule
from datamodules.corpora import corpus_fingerprint, load_named_corpus, read_corpus_path
from datamodules.streams import StreamBatches
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.io import atomic_path, cache_root


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
        self._codec: Optional[TextCodec] = None
        self._ids: Optional[torch.Tensor] = None

    # -- corpus and vocabulary ---------------------------------------------------------------
    def _load(self) -> None:
        if self._ids is not None:
            return
        source = self.path or self.corpus
        text = (
            read_corpus_path(self.path, self.encoding)
            if self.path
            else load_named_corpus(self.corpus, self.cache_dir / "corpora")
        )
        if not text.strip():
            raise StudioError(f"corpus {source} is empty: give it some text, or choose another --data.init_args.path")
        settings = f"{self.tokenizer_level}:{self.bpe_vocab_size}"
        cache_file = self.cache_dir / "text" / f"{corpus_fingerprint(text, settings)}.pt"
        if cache_file.exists():
            try:
                cached = torch.load(cache_file, weights_only=True)
                self._codec, self._ids = TextCodec.from_dict(cached["codec"]), cached["ids"].long()
                return
            except Exception:  # a truncated or foreign file in the cache: build it again
                warnings.warn(f"rebuilding a damaged cache entry {cache_file}", stacklevel=2)
        codec = TextCodec.train([text], self.tokenizer_level, self.bpe_vocab_size)
        ids = torch.tensor(codec.encode(text), dtype=torch.int32)
        with atomic_path(cache_file) as tmp:
            torch.save({"codec": codec.to_dict(), "ids": ids}, tmp)
        self._codec, self._ids = codec, ids.long()

    @property
    def codec(self) -> TextCodec:
        """The tokenizer built from the corpus (it travels inside every checkpoint)."""
        self._load()
        assert self._codec is not None
        return self._codec

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides: the vocabulary, and stateful training over contiguous streams."""
        return {"vocab_size": self.codec.vocab_size, "stateful": True}

    def split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Contiguous train and validation token ids (validation is the corpus's tail)."""
        self._load()
        assert self._ids is not None
        n_val = max(int(len(self._ids) * self.val_fraction), 2)
        return self._ids[:-n_val], self._ids[-n_val:]

    # -- loaders -----------------------------------------------------------------------------
    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _streams(self, ids: torch.Tensor, batch_size: int, split: str, consumed: Any = None) -> StreamBatches:
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
