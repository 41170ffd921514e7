"""How much memory is free, and a one-line refusal for work that would not fit (checked before allocating)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from studio.errors import StudioError

GB = 1024**3
# Leave this share of the free memory to the rest of the process and the machine.
HEADROOM = 0.8


def available_memory() -> Optional[int]:
    """Bytes this process may still allocate: the kernel's MemAvailable, bounded by a cgroup limit; None if unknown."""
    free: Optional[int] = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        return None
    try:  # a container's own limit may be lower than the machine's free memory
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max" and free is not None:
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return free


def check_memory(what: str, needed: float, fix: str) -> None:
    """StudioError when `needed` bytes for `what` would not fit in the free memory (unknown free memory: no check)."""
    override = os.environ.get("STUDIO_MEMORY_LIMIT_GB")  # lets tests and constrained hosts set the budget
    free = int(float(override) * GB) if override else available_memory()
    if free is None or needed <= HEADROOM * free:
        return
    raise StudioError(f"{what} needs about {needed / GB:,.1f} GB of memory but {free / GB:,.1f} GB is free: {fix}")
