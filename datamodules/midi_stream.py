"""A split's pieces as one stream of ids (BOS, piece, EOS, BOS, ...), read on demand from memory-mapped shards.

Nothing is joined in memory: a slice is gathered from the pieces it overlaps. The shards are
mapped read-only the first time a process reads them and are never pickled, so DataLoader
workers (forked or spawned) map the same files and share their pages instead of copying ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Union

import numpy as np


class JoinedPieces:
    """Pieces `(shard, lo, hi)` (ids `lo:hi` of shard file `shards[shard]`) joined as BOS, ids, EOS, ..."""

    def __init__(self, shards: list[Path], dtype: np.dtype, pieces: np.ndarray, bos: int, eos: int) -> None:
        self.shards, self.dtype, self.bos, self.eos = list(shards), np.dtype(dtype), bos, eos
        self.pieces = np.asarray(pieces, dtype=np.int64).reshape(-1, 3)
        sizes = self.pieces[:, 2] - self.pieces[:, 1] + 2
        self.starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)  # where each piece's BOS is
        self._maps: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def shard(self, number: int) -> np.ndarray:
        """Shard `number`'s ids, mapped read-only (once per process)."""
        if number not in self._maps:
            self._maps[number] = np.memmap(self.shards[number], dtype=self.dtype, mode="r")
        return self._maps[number]

    def __getitem__(self, key: Union[int, slice]) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("JoinedPieces takes slices with step 1 only")
            return self._gather(start, max(start, stop))
        index = int(key) + (len(self) if int(key) < 0 else 0)
        if not 0 <= index < len(self):
            raise IndexError(f"index {key} is outside a stream of {len(self)} ids")
        return self._gather(index, index + 1)[0]

    def _gather(self, start: int, stop: int) -> np.ndarray:
        out = np.empty(stop - start, dtype=np.int64)
        piece = int(np.searchsorted(self.starts, start, side="right")) - 1
        at = start
        while at < stop:
            base = int(self.starts[piece])
            shard, lo, hi = (int(v) for v in self.pieces[piece])
            end = min(stop, int(self.starts[piece + 1]))
            # Within the piece: position 0 is its BOS, 1..n its ids, n+1 its EOS.
            first, last = at - base, end - base
            inner_lo, inner_hi = max(first, 1), min(last, hi - lo + 1)
            if first == 0:
                out[at - start] = self.bos
            if inner_hi > inner_lo:
                out[base + inner_lo - start : base + inner_hi - start] = self.shard(shard)[
                    lo + inner_lo - 1 : lo + inner_hi - 1
                ]
            if last == hi - lo + 2:
                out[end - 1 - start] = self.eos
            at, piece = end, piece + 1
        return out

    def tolist(self) -> list[int]:
        """Every id of the stream (for small collections and tests)."""
        return self[:].tolist()  # type: ignore[no-any-return]

    def __array__(self, dtype: Optional[np.dtype] = None, copy: Optional[bool] = None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled as file names and piece table: a worker maps the shards itself instead of receiving copies.
        return {**self.__dict__, "_maps": {}}
