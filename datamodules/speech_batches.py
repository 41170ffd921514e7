"""Batches of speech utterances: items read from the feature store, padding collate, and length-bucketed batches.

Both datasets are map-style, so a plain `DataLoader` over them lets Lightning put a
`DistributedSampler` in front under DDP (over items, or over whole buckets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Optional

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from datamodules.speech_augment import SpecAugment
from datamodules.speech_store import FeatureStore
from studio.codecs.speech import IGNORE_INDEX
from studio.codecs.speech.normalise import GlobalCMVN


class SpeechBatch(NamedTuple):
    """Padded batch: features [B, T, F], lengths [B], frame labels [B, T] (IGNORE_INDEX = none), label sequences [B, S] and their lengths."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    frame_labels: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor


class UtteranceDataset(Dataset):
    """Some entries of a feature store as (features [T, F], frame labels [T], label ids [S]) tensors.

    It holds the store's memory maps and one integer per utterance, so it costs the same resident
    memory for a small corpus as for a large one; each item is read from the maps when asked for.

    With `augment` (SpecAugment, for the training split) each item's features are masked as they are
    read, the store untouched. The masks come from a generator seeded by `seed` (in a loader worker,
    by `seed` and the worker's seed, which the loader's seeded generator draws each epoch), so a seed
    gives the same masks and every epoch new ones. `blocks`: the feature blocks (1 + deltas).
    With `normalise` (global CMVN, every split) features are normalised as they are read, before masking.
    """

    def __init__(
        self,
        store: FeatureStore,
        entries: Sequence[int],
        augment: Optional[SpecAugment] = None,
        seed: int = 0,
        blocks: int = 1,
        normalise: Optional[GlobalCMVN] = None,
    ) -> None:
        self.store = store
        self.entries = np.asarray(entries, dtype=np.int64)
        self.augment = augment if augment is not None and augment.active else None
        self.seed, self.blocks, self.normalise = seed, blocks, normalise
        self._rng = np.random.default_rng(seed)
        self._worker_seed: Optional[int] = None

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        features, frame_labels, label_ids = self.store.item(int(self.entries[index]))
        if self.normalise is not None:
            features = self.normalise.apply(features)
        if self.augment is not None:
            features = self.augment(features, self._generator(), self.blocks)
        return torch.from_numpy(features), torch.from_numpy(frame_labels), torch.from_numpy(label_ids)

    def _generator(self) -> np.random.Generator:
        """The masks' generator: this process's, reseeded in a loader worker from the worker's seed."""
        worker = get_worker_info()
        if worker is not None and worker.seed != self._worker_seed:
            self._worker_seed = worker.seed
            self._rng = np.random.default_rng([self.seed, worker.seed])
        return self._rng

    @property
    def lengths(self) -> list[int]:
        """Frames per utterance."""
        return self.store.lengths[self.entries].tolist()


class BucketedBatches(Dataset):
    """Whole batches of utterances of similar length, so a packed RNN skips almost no padding."""

    def __init__(self, dataset: UtteranceDataset, batch_size: int, seed: int) -> None:
        self.dataset = dataset
        self.buckets = length_buckets(dataset.lengths, batch_size, seed)

    def __len__(self) -> int:
        return len(self.buckets)

    def __getitem__(self, index: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        return [self.dataset[i] for i in self.buckets[index]]


def length_buckets(lengths: Sequence[int], batch_size: int, seed: int) -> list[list[int]]:
    """Indices sorted by length (ties in seeded random order), cut into batches of `batch_size`."""
    tiebreak = np.random.default_rng(seed).permutation(len(lengths))
    order = np.lexsort((tiebreak, np.asarray(lengths)))
    return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]


def collate(items: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> SpeechBatch:
    """Pad features with zeros, frame labels with IGNORE_INDEX and label sequences with 0 (masked by their lengths)."""
    lengths = torch.tensor([features.shape[0] for features, _, _ in items], dtype=torch.long)
    target_lengths = torch.tensor([ids.shape[0] for _, _, ids in items], dtype=torch.long)
    batch, steps, width = len(items), int(lengths.max()), items[0][0].shape[1]
    inputs = torch.zeros(batch, steps, width, dtype=torch.float32)
    frame_labels = torch.full((batch, steps), IGNORE_INDEX, dtype=torch.long)
    targets = torch.zeros(batch, max(1, int(target_lengths.max())), dtype=torch.long)
    for row, (features, labels, ids) in enumerate(items):
        inputs[row, : features.shape[0]] = features
        frame_labels[row, : labels.shape[0]] = labels
        targets[row, : ids.shape[0]] = ids
    return SpeechBatch(inputs, lengths, frame_labels, targets, target_lengths)
