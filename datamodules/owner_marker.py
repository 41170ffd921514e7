"""Who is preparing a cache entry: a marker file with the owner's host, pid and a heartbeat.

`flock` keeps two preparations of one entry apart, but some shared filesystems (NFS without lockd,
some object-store mounts) grant it to everyone. The marker makes the waiting side safe there too:
it is created exclusively (`O_CREAT | O_EXCL`, which those filesystems honour), its owner touches it
every few seconds while it works and removes it when done, and a process that finds it waits while
the heartbeat is fresh. A marker whose owner is gone is taken over when that is certain (its pid is
dead on this host) and otherwise named in a one-line error, so nothing waits for ever on a crashed node.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

from studio.errors import StudioError

HEARTBEAT_SECONDS = 10.0
STALE_SECONDS = 120.0  # no heartbeat for this long: the owner is gone (or hung)
POLL_SECONDS = 0.5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _read(marker: Path) -> Optional[dict[str, Any]]:
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # being written, or damaged: judged by its age


def _age(marker: Path) -> float:
    try:
        return time.time() - marker.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _create(marker: Path) -> bool:
    """Create the marker if no one holds it; whether this process now does."""
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(owner, handle)
    return True


def _gone(marker: Path, owner: dict[str, Any]) -> bool:
    """Whether the marker's owner is certainly gone: a dead pid on this host."""
    pid = owner.get("pid")
    return owner.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid)


@contextmanager
def owning(marker: Path, stale_seconds: float = STALE_SECONDS, heartbeat: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Hold `marker` while the block runs: wait while another owner is alive, take over one that is gone."""
    marker.parent.mkdir(parents=True, exist_ok=True)
    while not _create(marker):
        owner = _read(marker)
        if owner is None:  # removed meanwhile: try again
            continue
        if owner and _gone(marker, owner):
            print(f"{marker} was left by process {owner['pid']}, which has ended: taking it over", file=sys.stderr)
            marker.unlink(missing_ok=True)
            continue
        if _age(marker) > stale_seconds:
            who = f"process {owner.get('pid', '?')} on {owner.get('host', '?')}" if owner else "an unknown process"
            raise StudioError(
                f"{marker} says {who} is preparing this cache entry, but it has not been touched for "
                f"{_age(marker):.0f} s: if no preparation is running there, remove the file and run again"
            )
        time.sleep(POLL_SECONDS)
    done = threading.Event()

    def beat() -> None:
        while not done.wait(heartbeat):
            try:
                os.utime(marker)
            except OSError:
                return

    beating = threading.Thread(target=beat, daemon=True)
    beating.start()
    try:
        yield
    finally:
        done.set()
        beating.join()
        marker.unlink(missing_ok=True)
