"""Tagged sentences read from the word-tagging store, and their padded batches."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.word_store import WordStore

IGNORE = -100
Item = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class SentenceItems(Dataset):
    """Some sentences of a store as (word ids [T], character ids [T, L], tag ids [T]) tensors."""

    def __init__(self, store: WordStore, items: np.ndarray) -> None:
        self.store, self.items = store, items

    def __len__(self) -> int:
        return len(self.items)

    @property
    def lengths(self) -> np.ndarray:
        """Words of each sentence."""
        return self.store.lengths(self.items)

    def __getitem__(self, index: int) -> Item:
        words, chars, labels = self.store.sentence(int(self.items[index]))
        return (
            torch.from_numpy(words.astype(np.int64)),
            torch.from_numpy(chars.astype(np.int64)),
            torch.from_numpy(labels.astype(np.int64)),
        )


def collate_sentences(items: list[Item]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Words and characters padded with 0, tags with IGNORE, after each sentence's end; and the lengths."""
    lengths = torch.tensor([len(words) for words, _, _ in items], dtype=torch.long)
    steps, width = int(lengths.max()), items[0][1].shape[1]
    words = torch.zeros(len(items), steps, dtype=torch.long)
    chars = torch.zeros(len(items), steps, width, dtype=torch.long)
    labels = torch.full((len(items), steps), IGNORE, dtype=torch.long)
    for row, (w, c, lab) in enumerate(items):
        words[row, : len(w)], chars[row, : len(w)], labels[row, : len(w)] = w, c, lab
    return words, chars, lengths, labels
