"""An exclusive lock between processes, so one prepares a cache entry while the others wait for it.

Two guards: `flock` on the lock file (released by the OS even when the holder is killed), and an
owner marker beside it (`datamodules.owner_marker`: host, pid, heartbeat) for filesystems that grant
`flock` to everyone (NFS without lockd, some object-store mounts) and for systems without it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from datamodules.owner_marker import owning


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if needed) while the block runs; other holders wait."""
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = path.with_name(path.name + ".owner")
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): the marker alone keeps preparations apart
        with owning(marker):
            yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes, even if the process is killed
        try:
            with owning(marker):
                yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
