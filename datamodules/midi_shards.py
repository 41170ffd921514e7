"""Shards of the MIDI store: `<n>.ids` (many pieces' ids back to back) and `<n>.offsets` (int64 piece starts, then the end).

A shard is written once, under temporary names that are renamed when it is complete, and never
changed after; a store grows by adding shards.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from studio.io import disk_error

SHARD_IDS = 32 * 1024 * 1024  # a shard is closed once it holds this many ids (64 MB of uint16)


def shard_files(folder: Path, number: int) -> tuple[Path, Path]:
    """The ids file and the offsets file of shard `number`."""
    return folder / f"{number:06d}.ids", folder / f"{number:06d}.offsets"


def is_small(ids: int) -> bool:
    """Whether a shard of `ids` ids is small enough to be merged into the next shard written."""
    return ids < SHARD_IDS // 4


def shard_intact(folder: Path, number: int, pieces: int, ids: int, dtype: np.dtype) -> bool:
    """Whether both files of a shard are there with the sizes its metadata says."""
    ids_file, offsets_file = shard_files(folder, number)
    try:
        return ids_file.stat().st_size == ids * dtype.itemsize and offsets_file.stat().st_size == (pieces + 1) * 8
    except OSError:
        return False


def read_offsets(folder: Path, number: int) -> np.ndarray:
    """Shard `number`'s piece offsets (int64, pieces + 1 of them), memory-mapped."""
    return np.memmap(shard_files(folder, number)[1], dtype=np.int64, mode="r")


def read_ids(folder: Path, number: int, dtype: np.dtype) -> np.ndarray:
    """Shard `number`'s ids, memory-mapped read-only."""
    return np.memmap(shard_files(folder, number)[0], dtype=dtype, mode="r")


class ShardWriter:
    """Appends pieces to new shards numbered from `first`; `add` says where each piece went."""

    def __init__(self, folder: Path, dtype: np.dtype, first: int) -> None:
        self.folder, self.dtype, self.number, self.limit = folder, dtype, first, SHARD_IDS
        self.written: dict[str, dict[str, int]] = {}  # shard number -> {"pieces", "ids"}, for meta.json
        self._handle: Any = None
        self._offsets: list[int] = []

    def _tmp(self, path: Path) -> Path:
        return path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def add(self, ids: np.ndarray) -> tuple[int, int]:
        """Append one piece's ids; (shard, piece) where they now are."""
        try:
            if self._handle is None:
                self._handle = open(self._tmp(shard_files(self.folder, self.number)[0]), "wb")  # noqa: SIM115 (open across calls)
                self._offsets = [0]
            self._handle.write(np.asarray(ids, dtype=self.dtype).tobytes())
        except OSError as error:
            raise disk_error("the MIDI store", error) from None
        self._offsets.append(self._offsets[-1] + len(ids))
        where = (self.number, len(self._offsets) - 2)
        if self._offsets[-1] >= self.limit:
            self._finish()
        return where

    def _finish(self) -> None:
        ids_file, offsets_file = shard_files(self.folder, self.number)
        try:
            self._handle.close()
            self._tmp(offsets_file).write_bytes(np.asarray(self._offsets, dtype=np.int64).tobytes())
            os.replace(self._tmp(offsets_file), offsets_file)
            os.replace(self._tmp(ids_file), ids_file)
        except OSError as error:
            raise disk_error("the MIDI store", error) from None
        self.written[str(self.number)] = {"pieces": len(self._offsets) - 1, "ids": self._offsets[-1]}
        self._handle, self.number = None, self.number + 1

    def close(self) -> int:
        """Complete the shard being written; the number the next shard would get."""
        if self._handle is not None:
            self._finish()
        return self.number

    def abandon(self) -> None:
        """Close and remove a shard left half-written by an error."""
        if self._handle is not None:
            self._handle.close()
            self._tmp(shard_files(self.folder, self.number)[0]).unlink(missing_ok=True)
            self._handle = None
