"""A cache entry that is prepared once, published atomically and shared between processes.

The life of an entry: open the published folder; if it is missing, or unusable (another format, damaged),
take a lock beside it (other processes, e.g. DDP ranks, wait here), look again (one of them may have
prepared it meanwhile), sweep what a killed preparation left, prepare into a temporary folder beside its
place and rename that into place. A half-written entry is never at the published name.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional, TypeVar

from datamodules.file_lock import exclusive

Entry = TypeVar("Entry")


class StoreUnusable(Exception):
    """A folder that is not a usable store of this format; the message says why ("damaged ..." or a format)."""


def read_meta(folder: Path, name: str, version: int) -> dict[str, Any]:
    """A published entry's metadata file `name`; StoreUnusable when it is missing, damaged or of another format."""
    try:
        meta = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise StoreUnusable(f"damaged ({name}: {type(error).__name__})") from None
    if not isinstance(meta, dict) or meta.get("format") != version:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise StoreUnusable(f"it has format {found}, this version reads format {version}")
    return meta


def prepared_entry(
    folder: Path, open_entry: Callable[[Path], Entry], prepare: Callable[[Path], None], what: str
) -> tuple[Entry, bool]:
    """The entry at `folder` opened by `open_entry`, first prepared by `prepare(tmp)` if missing or unusable;
    and whether this call prepared it (False: it was there, or another process prepared it meanwhile).

    An unusable entry is rebuilt with a one-line notice naming `what` and why.
    """
    if folder.exists():
        try:
            return open_entry(folder), False
        except StoreUnusable as why:
            notice = "rebuilding a damaged cache entry" if str(why).startswith("damaged") else f"rebuilding the {what}"
            warnings.warn(f"{notice} {folder}: {why}", stacklevel=3)
    with exclusive(folder.parent / f".{folder.name}.lock"):
        try:  # another process may have prepared it while this one waited
            return open_entry(folder), False
        except StoreUnusable:
            pass
        for stale in folder.parent.glob(f".{folder.name}.*.tmp"):  # left by a killed preparation
            shutil.rmtree(stale, ignore_errors=True)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True)
        try:
            prepare(tmp)
            publish(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return open_entry(folder), True


def publish(tmp: Path, folder: Path) -> None:
    """Rename the finished `tmp` into `folder`, moving an unusable one aside first (a folder cannot replace another)."""
    old: Optional[Path] = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.{os.getpid()}.old.tmp")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
