"""A progress line on stderr for long generations: share done, rate and time left; silent for quick ones.

A terminal gets one line redrawn in place; a log file or a pipe gets a plain line every few seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Called as `bar(fraction_done, tokens_so_far)`; draws only once the work has run `after` seconds."""

    def __init__(
        self,
        unit: str,
        after: float = 2.0,
        stream: TextIO | None = None,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.unit, self.after, self.width, self.clock = unit, after, width, clock
        self.stream = stream if stream is not None else sys.stderr
        self.inline = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.2 if self.inline else 5.0  # a log file gets a line every few seconds, not a redraw
        self.start = clock()
        self.last_draw = 0.0
        self.shown = False

    def __call__(self, fraction: float, tokens: int) -> None:
        """Draw the line: redrawn at most five times a second on a terminal, a new line every 5 s elsewhere."""
        now = self.clock()
        elapsed = now - self.start
        if elapsed < self.after or (self.shown and now - self.last_draw < self.every):
            return
        self.last_draw, self.shown = now, True
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        left = _clock(elapsed * (1 - fraction) / fraction) if fraction > 0 else "?"
        rate = tokens / elapsed if elapsed > 0 else 0.0
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {fraction:6.1%}  {tokens:,} {self.unit}  "
            f"{rate:,.0f} {self.unit}/s  {_clock(elapsed)} elapsed, {left} left"
        )
        self.stream.write(f"\r{line} " if self.inline else f"{line}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line, if one was drawn in place."""
        if self.shown and self.inline:
            self.stream.write("\n")
            self.stream.flush()


@contextmanager
def progress_line(unit: str) -> Iterator[ProgressBar]:
    """A progress bar for the work inside the block, its line ended however the block ends."""
    bar = ProgressBar(unit)
    try:
        yield bar
    finally:
        bar.close()
