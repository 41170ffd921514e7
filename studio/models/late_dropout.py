"""Dropout from the start of a run, or only once validation shows the model fitting its training data.

A model trained for many passes over a small text learns it by heart: its validation loss stops
falling and turns up. Dropout prevents that, but it slows learning all along, which costs a run on a
large corpus that never repeats its data often enough to overfit. With `dropout_from="overfitting"`
the dropout stays off until the first validation loss above the best one before it, and is on from
then to the end of the run ("late dropout"), so each kind of run gets what it needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from studio.errors import StudioError

DROPOUT_FROM = ("start", "overfitting")
# The rate in use, logged after each validation in "overfitting" mode (W&B, and the run's metrics.csv).
DROPOUT_METRIC = "dropout"


def check_dropout_from(dropout_from: str, dropout: float) -> None:
    """One-line errors for a `dropout_from` that is unknown or has no dropout to switch on."""
    if dropout_from not in DROPOUT_FROM:
        raise StudioError(
            f"--model.init_args.dropout_from {dropout_from!r} is unknown: choose one of {', '.join(DROPOUT_FROM)}"
        )
    if dropout_from == "overfitting" and not dropout:
        raise StudioError(
            "--model.init_args.dropout_from overfitting needs a rate to switch on: set --model.init_args.dropout, e.g. 0.2"
        )


@dataclass
class OverfittingWatch:
    """Follows the validation losses of a run and says when one is worse than the best before it."""

    best: float = math.inf
    seen: bool = False  # whether a validation loss has turned up (for good: the switch never goes back)

    def observe(self, loss: float) -> bool:
        """Record a validation loss; True the first time one is above the best so far."""
        if self.seen:
            return False
        if loss > self.best:
            self.seen = True
            return True
        self.best = min(self.best, loss)
        return False

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps, so a resumed run goes on with the same switch."""
        return {"best": self.best, "seen": self.seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from `state_dict()`."""
        self.best, self.seen = float(state["best"]), bool(state["seen"])
