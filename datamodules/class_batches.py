"""Labelled sequences read from the classification store, and their padded batches."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.class_store import ClassStore

Item = tuple[torch.Tensor, torch.Tensor]


class ClassItems(Dataset):
    """Some items of a store as (values [T] or [T, F], target) tensors, read from the maps when asked for."""

    def __init__(self, store: ClassStore, items: np.ndarray) -> None:
        self.store, self.items = store, items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Item:
        values, target = self.store.item(int(self.items[index]))
        # Copies out of the read-only maps, as torch wants writable arrays.
        wide = values.astype(np.float32 if values.dtype == np.float16 else np.int64)
        return torch.from_numpy(wide), torch.from_numpy(np.array(target, dtype=np.int64))

    @property
    def lengths(self) -> np.ndarray:
        """Steps of each item."""
        return self.store.lengths(self.items)


def collate(items: Sequence[Item]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs padded after each item's end (with 0), their lengths, and the targets stacked."""
    lengths = torch.tensor([max(len(values), 1) for values, _ in items], dtype=torch.long)
    first = items[0][0]
    shape = (len(items), int(lengths.max()), *first.shape[1:])
    inputs = torch.zeros(shape, dtype=first.dtype)
    for row, (values, _) in enumerate(items):
        inputs[row, : len(values)] = values
    targets = torch.stack([target for _, target in items])
    return inputs, lengths, targets
