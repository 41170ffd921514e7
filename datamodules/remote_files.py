"""Downloads shared between processes: one process fetches (or unpacks) a remote file, the others wait and reuse it.

`studio.downloads` publishes every file atomically, so racing processes never see half a file; the lock
here (flock plus an owner marker, `datamodules.file_lock`) also makes them download it only once: DDP ranks
or two runs asking for the same corpus at the same moment wait for the first, then find its copy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from datamodules.file_lock import exclusive
from studio.downloads import Remote, fetch, fetched


def fetch_once(remote: Remote, target: Path, hint: str) -> Path:
    """`fetch` under a lock beside `target`: the first process downloads, the others wait and reuse its copy."""
    target = Path(target)
    if fetched(remote, target):  # no lock needed to read a finished copy (the cache may be read-only)
        return target
    with exclusive(target.with_name(f".{target.name}.lock")):
        return fetch(remote, target, hint=hint)


def unpack_once(archive: Path, folder: Path, extract: Callable[[Path, Path], Path]) -> Path:
    """`extract(archive, folder)` under a lock beside `folder`, so only one process unpacks it."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    with exclusive(folder.with_name(f".{folder.name}.lock")):
        return extract(archive, folder)
