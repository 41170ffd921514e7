"""Where Studio keeps derived files (caches) on disk."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The cache folder: `$STUDIO_CACHE`, else `~/.cache/studio`."""
    return Path(os.environ.get("STUDIO_CACHE") or Path.home() / ".cache" / "studio")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
