"""Files on disk: the cache folder, and the one atomic writer everything that publishes a file uses."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from studio.errors import StudioError


def cache_root() -> Path:
    """The cache folder: `$STUDIO_CACHE`, else `~/.cache/studio`."""
    return Path(os.environ.get("STUDIO_CACHE") or Path.home() / ".cache" / "studio")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on failure removed.

    A reader never sees a half-written file, and a failed write leaves nothing behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees a half-written file (nothing is left on failure)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def os_reason(error: OSError) -> str:
    """The operating system's words for `error` (e.g. 'No space left on device')."""
    return error.strerror or type(error).__name__


def os_error_line(error: OSError) -> str:
    """One line for a filesystem failure nobody anticipated more precisely: the path, the OS's reason, the fix."""
    where = f"{error.filename}: " if error.filename else ""
    return (
        f"{where}{os_reason(error)}: check the path and its permissions, or free disk space "
        "(files written before this point are intact)"
    )


def check_free_space(folder: Path, needed: float, what: str) -> None:
    """Refuse in one line when `needed` bytes of `what` (a cache entry) would not fit on `folder`'s disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise StudioError(
            f"{what} needs about {needed / 1e6:,.0f} MB but {folder.parent} has {free / 1e6:,.0f} MB free: "
            "free disk space, or point STUDIO_CACHE (or --data.init_args.cache_dir) at a larger disk"
        )


def disk_error(what: str, error: OSError) -> StudioError:
    """A one-line error for a write the filesystem refused: what was written, where, and the OS's reason."""
    where = f" ({error.filename})" if error.filename else ""
    return StudioError(f"cannot write {what}{where}: {os_reason(error)}; free space or choose another folder")
