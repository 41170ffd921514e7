"""Training throughput: time steps per second of wall time, all ranks together."""

from __future__ import annotations

import time
from typing import Any, Optional

import lightning as L


class TokenThroughput(L.Callback):
    """Logs `train/tokens_per_s`: time steps (tokens, events or frames) of all ranks per second of wall time."""

    def __init__(self) -> None:
        self._last: Optional[float] = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Epoch boundaries (validation, checkpoints) are not counted as training time."""
        self._last = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Log the rate of the step that just ended."""
        now = time.perf_counter()
        if self._last is not None:
            tokens = batch[0].shape[:2].numel() * trainer.world_size  # batch x time steps, whatever each step holds
            pl_module.log("train/tokens_per_s", tokens / max(now - self._last, 1e-9))
        self._last = now

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Validation in the middle of an epoch is not training time either."""
        self._last = None
