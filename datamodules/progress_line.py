"""A progress line on stderr for long corpus preparations: share done, MB/s and time left; silent for quick ones."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressLine:
    """`advance(n)` as n more of `total` units are read; drawn once the whole preparation has run `after` seconds.

    A terminal gets one line redrawn in place; a log file gets a line every `every` seconds instead.
    """

    def __init__(
        self,
        what: str,
        total: int,
        started: float,
        after: float = 2.0,
        every: float = 5.0,
        stream: Optional[TextIO] = None,
        unit: str = "MB",
        per_unit: float = 1e6,
    ) -> None:
        """`total` counts bytes shown as MB unless `unit` names what is counted (`per_unit` of them make one)."""
        self.what, self.total, self.started, self.after = what, max(total, 1), started, after
        self.unit, self.per_unit = unit, per_unit
        self.stream = stream if stream is not None else sys.stderr
        self.inline = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.2 if self.inline else every
        self.begun = time.monotonic()
        self.done = 0
        self.last_draw = 0.0
        self.shown = False

    def advance(self, units: int) -> None:
        """Count `units` more; redraw if it is time to."""
        self.done += units
        now = time.monotonic()
        # A second into the phase at least, so the rate means something.
        if now - self.started < self.after or now - self.begun < 1.0 or now - self.last_draw < self.every:
            return
        self.last_draw, self.shown = now, True
        self._draw(now)

    def _draw(self, now: float, finished: bool = False) -> None:
        elapsed = max(now - self.begun, 1e-9)
        fraction = min(self.done / self.total, 1.0)
        left = _clock(elapsed * (1 - fraction) / fraction) if fraction > 0 else "?"
        rate = f"{self.done / elapsed / self.per_unit:,.1f} {self.unit}/s"
        if finished:
            line = f"{self.what}: done in {_clock(elapsed)} ({rate})"
        else:
            line = f"{self.what}: {fraction:6.1%}  {rate}  {left} left"
        self.stream.write(f"\r{line:<72}" if self.inline else f"{line}\n")  # padded over a longer last line
        self.stream.flush()

    def close(self) -> None:
        """Draw the finished line, if any line was drawn."""
        if self.shown:
            self._draw(time.monotonic(), finished=True)
            if self.inline:
                self.stream.write("\n")
            self.stream.flush()
