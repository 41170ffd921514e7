"""Training throughput: time steps per second of wall time, all ranks together."""

from __future__ import annotations

import time
from typing import Any, Optional

import lightning as L

from studio.training.log_steps import loggers_record


class TokenThroughput(L.Callback):
    """Logs `train/tokens_per_s`: time steps (tokens, events or frames) of all ranks per second of wall time.

    The rate is that of the steps trained since the last logged one, so it is an average over the
    logging interval, not one step's chance speed; validation and epoch boundaries are left out.
    """

    def __init__(self) -> None:
        self._last: Optional[float] = None
        self._tokens = 0
        self._seconds = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Epoch boundaries (validation, checkpoints) are not counted as training time."""
        self._last = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Count the step that just ended; on a logged step, log the rate since the last one."""
        now = time.perf_counter()
        if self._last is not None:
            self._tokens += batch[0].shape[:2].numel() * trainer.world_size  # batch x time steps, whatever each holds
            self._seconds += now - self._last
        self._last = now
        if self._tokens and loggers_record(trainer, step_done=True):
            pl_module.log("train/tokens_per_s", self._tokens / max(self._seconds, 1e-9))
            self._tokens, self._seconds = 0, 0.0

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Validation in the middle of an epoch is not training time either."""
        self._last = None
