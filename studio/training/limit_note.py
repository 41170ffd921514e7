"""A run stopped by its time budget before the steps or epochs it asked for says so in one plain line.

Without it, a preset's safety limit (`max_time`) cuts a run short on a slow machine silently, and its
samples look like a failure of the model rather than of the budget.
"""

from __future__ import annotations

import datetime
import sys

import lightning as L
from lightning.pytorch.callbacks import Timer


class TimeLimitNote(L.Callback):
    """At the end of training, on rank zero: if `max_time` stopped the run short, name the step, the limit and the fix."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Print the note when the time budget ran out before the steps (or epochs) asked for."""
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # type: ignore[attr-defined]
        remaining = timer.time_remaining() if timer is not None else None
        if not trainer.is_global_zero or remaining is None or remaining > 0:
            return
        if trainer.max_steps is not None and trainer.max_steps > 0:
            if trainer.global_step >= trainer.max_steps:
                return
            where = f"at step {trainer.global_step} of {trainer.max_steps}"
        elif trainer.max_epochs is not None and trainer.max_epochs > 0:
            if trainer.current_epoch >= trainer.max_epochs:
                return
            where = f"in epoch {trainer.current_epoch + 1} of {trainer.max_epochs} (step {trainer.global_step})"
        else:
            return
        budget = datetime.timedelta(seconds=round(timer.time_elapsed() - remaining))  # type: ignore[union-attr]
        print(
            f"studio: stopped {where} by max_time {budget}; the learning-rate schedule followed the time, so the "
            "model is complete but trained less than asked: pass --trainer.max_time to change it",
            file=sys.stderr,
        )
