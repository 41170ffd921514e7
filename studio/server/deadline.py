"""A generation request's time limit on the server: the time it has left, and the one-line end (a 503) past it.

Every generation request gets `REQUEST_SECONDS` (`studio serve --request_seconds`) from its arrival, its
wait for a free worker included. A request that waits past it is answered 503 at once; one whose
generation runs past it is stopped at the next step (its progress check) and answered 503, or, for
streamed text, ends its stream with an error line after what it streamed, which is saved.
"""

from __future__ import annotations

import time
from typing import Any

from studio.errors import StudioError

# Long enough for the largest request the page allows on a CPU (8 pieces of 300 s, a 64-row beam search).
REQUEST_SECONDS = 300.0


class TooLong(StudioError):
    """A request that ran, or waited, past the server's time limit (the server answers 503)."""


class Deadline:
    """The end of one request's time: `left()` to wait with, `check` (a progress callback) to stop work past it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds until the limit (0 once past it)."""
        return max(0.0, self.end - time.monotonic())

    def passed(self) -> bool:
        """Whether the limit has passed."""
        return time.monotonic() >= self.end

    def check(self, *progress: Any) -> None:
        """TooLong once the limit has passed; called as a generation's progress callback, so work stops there."""
        if self.passed():
            raise TooLong(self.ran_past())

    def ran_past(self) -> str:
        """Why a request that ran past the limit was stopped, and what to do."""
        return (
            f"the request ran past the {self.seconds:g} s a request may take on this studio: ask for fewer or shorter "
            "samples (or start `studio serve` with a larger --request_seconds)"
        )

    def busy(self) -> str:
        """Why a request that could not start within the limit was turned away."""
        return f"the studio was busy with other requests for {self.seconds:g} s: try again in a moment"
