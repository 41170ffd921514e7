"""Stateful truncated-BPTT batches: B contiguous streams through a corpus, read chunk by chunk (char-rnn style).

The corpus may be a memory-mapped numpy array: rows are views into it, and only the chunk of each
batch is read and turned into a torch tensor, so memory does not grow with the corpus.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Optional, Union

import numpy as np
import torch


class StreamBatches:
    """Yield `(x, y)` chunks of shape [batch_size, <=seq_len] in which row b continues row b of the last chunk.

    The corpus is cut into `batch_size * world_size` equal streams; rank r reads streams
    r*batch_size .. (r+1)*batch_size - 1, so no two ranks read the same stream and together they
    cover the corpus. The last chunk may be shorter, so every token of the streams is read.
    """

    def __init__(
        self,
        tokens: Union[np.ndarray, torch.Tensor],
        batch_size: int,
        seq_len: int,
        rank: int = 0,
        world_size: int = 1,
        consumed: Optional[Callable[[], int]] = None,
    ) -> None:
        if isinstance(tokens, torch.Tensor):
            tokens = tokens.detach().cpu().numpy()  # a CPU tensor shares its memory with the array
        streams = batch_size * world_size
        stream_len = (len(tokens) - 1) // streams
        if stream_len < 1:
            raise ValueError(f"{len(tokens)} tokens cannot fill {streams} streams")
        used = streams * stream_len
        rows = slice(rank * batch_size, (rank + 1) * batch_size)
        # Views, not copies: a memory-mapped corpus stays on disk until a chunk is read.
        self.inputs = tokens[:used].reshape(streams, stream_len)[rows]
        self.targets = tokens[1 : used + 1].reshape(streams, stream_len)[rows]
        self.seq_len = seq_len
        self.position = 0
        self._yielded = 0
        # Counting what the trainer consumed (not what was prefetched) makes resume exact.
        self._consumed = consumed or (lambda: self._yielded)

    def __len__(self) -> int:
        return math.ceil(self.inputs.shape[1] / self.seq_len)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        start, self.position = self.position, 0
        for index in range(start, len(self)):
            self._yielded = index + 1
            cols = slice(index * self.seq_len, (index + 1) * self.seq_len)
            yield _tensor(self.inputs[:, cols]), _tensor(self.targets[:, cols])

    def state_dict(self) -> dict[str, Any]:
        """Where the next chunk starts: batches the trainer has consumed this epoch."""
        return {"position": int(self._consumed())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved position; a finished epoch starts the next one from the top."""
        position = int(state.get("position", 0))
        self.position = position if position < len(self) else 0


def _tensor(chunk: np.ndarray) -> torch.Tensor:
    """A chunk of ids as the int64 tensor embeddings and losses take (a copy of just this chunk)."""
    return torch.from_numpy(chunk.astype(np.int64))
