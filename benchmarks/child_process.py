"""A benchmark's child process under an address-space limit: its peak memory, its children's, its first step.

The limit makes a child that would exhaust the machine fail with a MemoryError instead; its own peak
RSS comes from wait4, the peaks of the processes it starts (DDP ranks) from /proc.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional


@dataclass
class Child:
    """What one child process did: exit code, wall time, peak RSS, and the tail of its stderr."""

    code: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr_tail: str
    first_step_s: Optional[float] = None
    children_peak_rss: list[int] = field(default_factory=list)


def _descendants(pid: int) -> list[int]:
    """Every live process below `pid` (DDP ranks the launcher started), from /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:  # the task ended meanwhile
                continue
            found += children
            todo += children
    return found


def _high_water(pid: int) -> int:
    """Peak RSS (VmHWM) of a live process in bytes; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1]) * 1024


def run_child(
    command: list[str],
    cwd: Path,
    env: dict[str, str],
    limit: int,
    step_file: Optional[Path] = None,
    watch_children: bool = False,
) -> Child:
    """Run `command` under an address-space `limit`; its own peak RSS comes from wait4, not from sampling.

    With `watch_children`, the peak RSS of each process it starts (inheriting the limit) is its last
    high-water mark seen in /proc, polled every 20 ms: a peak reached in its last 20 ms could be missed.
    """
    out, err = cwd / "child.out", cwd / "child.err"
    limit_as = lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    start = time.perf_counter()
    peaks: dict[int, int] = {}
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=stderr, preexec_fn=limit_as)
        first: Optional[float] = None
        finished, status, usage = 0, 0, None
        while (step_file is not None and first is None) or watch_children:  # watch while the child runs
            finished, status, usage = os.wait4(process.pid, os.WNOHANG)
            if finished:
                break
            if step_file is not None and first is None and step_file.exists():
                first = time.perf_counter() - start
            for pid in _descendants(process.pid) if watch_children else ():
                peaks[pid] = max(peaks.get(pid, 0), _high_water(pid))
            time.sleep(0.02)
        if not finished:
            _, status, usage = os.wait4(process.pid, 0)
        assert usage is not None
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    lines = err.read_text(errors="replace").strip().splitlines()
    child = Child(process.returncode, seconds, usage.ru_maxrss * 1024, out.read_text(), " | ".join(lines[-3:]), first)
    child.children_peak_rss = sorted(peaks.values(), reverse=True)
    return child
