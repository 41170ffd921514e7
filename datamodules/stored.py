"""StoredDataModule: a data module whose examples live in a store in the cache, split three ways and batched by length.

A subclass says how its store is built (`build_store`), how a split's items are read from it
(`items`) and how items make a batch (`collate`); preparing once (`prepare_store`, which `studio fit`
calls in every process before the Trainer exists), mapping in every process, and the length-bucketed
loaders are the same for all (classification, word tagging).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from datamodules.base import PreparedStore, StudioDataModule, folder_size
from datamodules.buckets import BucketedItems
from studio.errors import StudioError


class StoredDataModule(StudioDataModule):
    """Store-backed data: `store()` prepared once and memory-mapped; train, val and test loaders over its splits."""

    batch_size: int
    val_batch_size: int
    num_workers: int
    seed: int
    bucket: bool = True
    collate: Callable[[list[Any]], Any]
    cache_dir: Path
    kind = "store"  # what the store is called, e.g. "classification store"
    unit = "items"  # what its items are, e.g. "sequences"

    def __init__(self) -> None:
        super().__init__()
        self._store: Optional[Any] = None

    def build_store(self) -> Any:
        """The store (prepared into the cache if it is not there); it has `codec`, `indices(split)`."""
        raise NotImplementedError

    def items(self, store: Any, indices: np.ndarray) -> Dataset:
        """A dataset of the store's `indices` (with a `lengths` property, for bucketing)."""
        raise NotImplementedError

    def store(self) -> Any:
        """The store, prepared once into the cache (bounded memory) and memory-mapped."""
        if self._store is None:
            self._store = self.build_store()
        return self._store

    def prepare_store(self) -> PreparedStore:
        """Prepare the store unless it is in the cache (other processes wait on its lock), and map it."""
        store = self.store()
        counts = ", ".join(f"{len(store.indices(split)):,} {split}" for split in ("train", "val", "test"))
        contents = f"{len(store.splits):,} {self.unit}: {counts}"
        return PreparedStore(self.kind, store.folder, folder_size(store.folder), contents, store.built, self.cache_dir)

    def prepare_data(self) -> None:
        """Ready already when `studio fit` runs (see `prepare_store`); otherwise prepared here."""
        self.store()

    def setup(self, stage: Optional[str] = None) -> None:
        """Map the store."""
        self.store()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (workers, DDP spawn) without the memory maps: each process maps the store itself."""
        return {**self.__dict__, "_store": None}

    @property
    def codec(self) -> Any:
        """The store's codec: it travels inside every checkpoint."""
        return self.store().codec

    def held_out_split(self, split: str) -> str:
        """The split `studio evaluate --split` reads: test is validation when there is no test split."""
        return "val" if split == "test" and not len(self.store().indices("test")) else split

    def dataset_of(self, split: str) -> Dataset:
        """The items of `split` ("train", "val" or "test"; without a test split, test is validation)."""
        store = self.store()
        indices = store.indices(self.held_out_split(split) if split == "test" else split)
        if not len(indices):
            option = "val_fraction or pass --data.init_args.val_path" if split == "val" else f"{split}_path"
            raise StudioError(f"the {split} split is empty: raise --data.init_args.{option}")
        return self.items(store, indices)

    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        dataset = self.dataset_of(split)
        common: dict[str, Any] = dict(
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=type(self).collate,
            generator=torch.Generator().manual_seed(self.seed),
        )
        if self.bucket:
            return DataLoader(BucketedItems(dataset, batch_size, self.seed), batch_size=None, shuffle=shuffle, **common)  # type: ignore[arg-type]
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **common)

    def train_dataloader(self) -> DataLoader:
        """Training batches: buckets of items of similar length, in shuffled order (shuffled items without buckets)."""
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches, in a fixed order."""
        return self._loader("val", self.val_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches (the validation split when there is no test split)."""
        return self._loader("test", self.val_batch_size, shuffle=False)
