"""A progress line on stderr for long generations: share done, rate and time left; silent for quick ones."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class ProgressBar:
    """Called as `bar(fraction_done, tokens_so_far)`; draws only once the work has run `after` seconds."""

    def __init__(self, unit: str, after: float = 2.0, stream: TextIO | None = None, width: int = 24) -> None:
        self.unit, self.after, self.width = unit, after, width
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.shown = False

    def __call__(self, fraction: float, tokens: int) -> None:
        """Redraw the line (at most five times a second)."""
        now = time.monotonic()
        elapsed = now - self.start
        if elapsed < self.after or now - self.last_draw < 0.2:
            return
        self.last_draw, self.shown = now, True
        fraction = min(max(fraction, 0.0), 1.0)
        filled = int(round(fraction * self.width))
        left = _clock(elapsed * (1 - fraction) / fraction) if fraction > 0 else "?"
        rate = tokens / elapsed if elapsed > 0 else 0.0
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {fraction:6.1%}  {tokens:,} {self.unit}  "
            f"{rate:,.0f} {self.unit}/s  {_clock(elapsed)} elapsed, {left} left "
        )
        self.stream.flush()

    def close(self) -> None:
        """End the line, if one was drawn."""
        if self.shown:
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
