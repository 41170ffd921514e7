"""Training callbacks: throughput, and generated samples logged while training."""

from __future__ import annotations

import time
from typing import Any, Optional

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from studio.sampling import SamplingSettings, generate


class TokenThroughput(L.Callback):
    """Logs `train/tokens_per_s`: time steps (tokens, events or frames) of all ranks per second of wall time."""

    def __init__(self) -> None:
        self._last: Optional[float] = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Epoch boundaries (validation, checkpoints) are not counted as training time."""
        self._last = None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Log the rate of the step that just ended."""
        now = time.perf_counter()
        if self._last is not None:
            tokens = batch[0].shape[:2].numel() * trainer.world_size  # batch x time steps, whatever each step holds
            pl_module.log("train/tokens_per_s", tokens / max(now - self._last, 1e-9))
        self._last = now

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Validation in the middle of an epoch is not training time either."""
        self._last = None


class TextSampleLogger(L.Callback):
    """Every `every_n_steps`, generates text on rank zero and logs it as a W&B table (and to the console log)."""

    def __init__(self, every_n_steps: int = 200, num_samples: int = 4, length: int = 200, prompt: str = "\n", temperature: float = 0.8, seed: int = 0) -> None:
        self.every_n_steps = every_n_steps
        self.num_samples, self.length, self.prompt = num_samples, length, prompt
        self.settings = SamplingSettings(temperature=temperature)
        self.seed = seed
        self.logged: list[tuple[int, str]] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Sample and log when the step count is a multiple of `every_n_steps`."""
        step = trainer.global_step
        codec = getattr(trainer.datamodule, "codec", None)
        if self.every_n_steps <= 0 or step % self.every_n_steps or not trainer.is_global_zero or codec is None or codec.kind != "text":
            return
        prompt_ids = codec.encode(self.prompt) or [0]
        rows = generate(pl_module, prompt_ids, self.length, self.num_samples, self.settings, self.seed)
        texts = [self.prompt + codec.decode(row) for row in rows]
        self.logged.extend((step, text) for text in texts)
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table("samples/text", columns=["step", "text"], data=[[s, t] for s, t in self.logged])
