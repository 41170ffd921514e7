"""Learning-rate schedules as multipliers of the base rate, stepped once per optimizer step."""

from __future__ import annotations

import math
from typing import Callable

from studio.errors import StudioError

SCHEDULES = ("constant", "cosine", "linear")


def lr_multiplier(kind: str, warmup_steps: int, total_steps: int, min_ratio: float) -> Callable[[int], float]:
    """Linear warm-up for `warmup_steps`, then `kind` decay from 1 to `min_ratio` at `total_steps`."""
    if kind not in SCHEDULES:
        raise StudioError(f"unknown scheduler {kind!r}: choose one of {', '.join(SCHEDULES)}")

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if kind == "constant":
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if kind == "cosine" else 1 - progress
        return min_ratio + (1 - min_ratio) * shape

    return multiplier
