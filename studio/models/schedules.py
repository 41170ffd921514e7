"""Learning-rate schedules as multipliers of the base rate, stepped once per optimizer step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import lightning as L
import torch

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


def configure_adamw(module: L.LightningModule) -> dict[str, Any]:
    """AdamW (no decay on biases and norms) with a per-step warm-up + decay schedule, from the module's hparams."""
    hp = module.hparams
    decay = [p for p in module.parameters() if p.dim() >= 2]
    no_decay = [p for p in module.parameters() if p.dim() < 2]
    # Named groups: LearningRateMonitor logs them as lr/weights and lr/biases.
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": hp.weight_decay, "name": "weights"},
            {"params": no_decay, "weight_decay": 0.0, "name": "biases"},
        ],
        lr=hp.lr,
        betas=tuple(hp.betas),
    )
    total = module.trainer.estimated_stepping_batches if module._trainer else 1
    total = int(total) if math.isfinite(total) else 10**9
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_multiplier(hp.scheduler, hp.warmup_steps, total, hp.min_lr_ratio)
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"}}
