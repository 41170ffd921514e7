"""Checkpoints loaded once and kept: a cache bounded by count and by the memory of the models it holds.

A checkpoint is keyed by its path and its file's version (modification time and size), so a run that is
still training serves its newest `last.ckpt`; the least recently used models leave first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from studio.generation import Generator

MAX_MODELS = 4
MAX_BYTES = 2 * 1024**3


def model_bytes(generator: Generator) -> int:
    """The memory of a loaded model's parameters and buffers."""
    state = generator.loaded.model.state_dict()
    return sum(t.numel() * t.element_size() for t in state.values())


class ModelCache:
    """`get(path)` loads a checkpoint the first time (one load at a time per path) and returns it afterwards."""

    def __init__(self, device: str = "cpu", max_models: int = MAX_MODELS, max_bytes: int = MAX_BYTES) -> None:
        self.device, self.max_models, self.max_bytes = device, max_models, max_bytes
        self._models: OrderedDict[tuple[Path, int, int], tuple[Generator, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[Path, threading.Lock] = {}

    def get(self, path: Path) -> Generator:
        """The generator of `path` (loaded now if it is not cached, or if its file changed)."""
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
            loading = self._loading.setdefault(path, threading.Lock())
        with loading:
            with self._lock:
                if key in self._models:
                    return self._models[key][0]
            generator = Generator.from_checkpoint(path, self.device)
            size = model_bytes(generator)
            with self._lock:
                for old in [k for k in self._models if k[0] == path]:  # an older version of the same file
                    del self._models[old]
                self._models[key] = (generator, size)
                self._evict()
            return generator

    def _evict(self) -> None:
        """Drop the least recently used models until both bounds hold (the newest always stays)."""
        while len(self._models) > 1 and (
            len(self._models) > self.max_models or sum(size for _, size in self._models.values()) > self.max_bytes
        ):
            self._models.popitem(last=False)

    def __len__(self) -> int:
        return len(self._models)
