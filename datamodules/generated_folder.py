"""A folder the project writes once (a generated corpus): built beside its place, swapped in whole, marked as done.

The marker, written last, holds the settings the folder was made with, so a folder with the same
settings is reused and one with others is rebuilt. One process builds it under a lock while the
others wait, then find it there; a reader never sees half a folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from datamodules.file_lock import exclusive


def read_marker(root: Path, marker: str) -> Optional[dict[str, Any]]:
    """The settings `root` was built with, or None when it holds no finished build."""
    try:
        data = json.loads((root / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def build_once(
    root: Path, params: dict[str, Any], marker: str, write: Callable[[Path], None], announce: str = ""
) -> None:
    """Make sure `root` holds a build with `params`: `write(folder)` fills a fresh folder, which replaces `root`."""
    if read_marker(root, marker) == params:
        return
    with exclusive(root.with_name(f".{root.name}.lock")):
        if read_marker(root, marker) == params:  # another process finished first
            return
        if announce:
            print(announce, flush=True)
        staging = root.with_name(f".{root.name}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            write(staging)
            (staging / marker).write_text(json.dumps(params, sort_keys=True), encoding="utf-8")  # last: it is whole
            if root.exists():
                shutil.rmtree(root)
            os.replace(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
