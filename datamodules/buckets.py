"""Whole batches of items of similar length, so a batch of short sequences stays short (padding costs little)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from torch.utils.data import Dataset

from datamodules.speech_batches import length_buckets


class Measured(Protocol):
    """A map-style dataset that knows each item's length."""

    @property
    def lengths(self) -> np.ndarray: ...

    def __getitem__(self, index: int) -> Any: ...


class BucketedItems(Dataset):
    """Batches of indices sorted by length (ties in seeded random order); each item of this dataset is a batch."""

    def __init__(self, dataset: Measured, batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.buckets = length_buckets(np.asarray(dataset.lengths).tolist(), batch_size, seed)

    def __len__(self) -> int:
        return len(self.buckets)

    def __getitem__(self, index: int) -> list[Any]:
        return [self.dataset[i] for i in self.buckets[index]]
