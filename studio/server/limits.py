"""What one web request may ask for: a page is shared, so each request is bounded before the CLI's own checks run.

(The CLI's checks, such as the free-memory check and the sampling settings' ranges, apply as well.)
"""

from __future__ import annotations

import math

from studio.errors import StudioError

MAX_TEXT_SAMPLES, MAX_TEXT_LENGTH = 16, 10_000
MAX_PIECES, MAX_SECONDS, MAX_BEAM_WIDTH = 8, 300.0, 64
MAX_TAG_BEAM = 64


def check_text_limits(length: int, num_samples: int) -> None:
    """Text: at most MAX_TEXT_SAMPLES samples of MAX_TEXT_LENGTH tokens per request."""
    if not 1 <= num_samples <= MAX_TEXT_SAMPLES:
        raise StudioError(f"num_samples {num_samples} must be from 1 to {MAX_TEXT_SAMPLES} per request")
    if not 1 <= length <= MAX_TEXT_LENGTH:
        raise StudioError(f"length {length} must be from 1 to {MAX_TEXT_LENGTH} tokens per request")


def check_midi_limits(seconds: float, num_samples: int, beam_size: int, branch_factor: int) -> None:
    """MIDI: at most MAX_PIECES pieces of MAX_SECONDS, and beam_size x branch_factor at most MAX_BEAM_WIDTH."""
    if not 1 <= num_samples <= MAX_PIECES:
        raise StudioError(f"num_samples {num_samples} must be from 1 to {MAX_PIECES} pieces per request")
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise StudioError(f"seconds {seconds} must be above 0 and at most {MAX_SECONDS:.0f}")
    if beam_size < 1 or branch_factor < 1 or beam_size * branch_factor > MAX_BEAM_WIDTH:
        raise StudioError(
            f"beam_size {beam_size} x branch_factor {branch_factor} must be from 1 to {MAX_BEAM_WIDTH} in all"
        )


def check_tag_limits(beam_width: int) -> None:
    """Tagging: a beam of 1 to MAX_TAG_BEAM."""
    if not 1 <= beam_width <= MAX_TAG_BEAM:
        raise StudioError(f"beam_width {beam_width} must be from 1 to {MAX_TAG_BEAM}")
