"""Learning-rate schedules as multipliers of the base rate, stepped once per optimizer step."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from lightning.pytorch.trainer.states import RunningStage

from studio.errors import StudioError

SCHEDULES = ("constant", "cosine", "linear")


def lr_multiplier(
    kind: str,
    warmup_steps: int,
    total_steps: int,
    min_ratio: float,
    time_progress: Optional[Callable[[], float]] = None,
) -> Callable[[int], float]:
    """Linear warm-up for `warmup_steps`, then `kind` decay from 1 to `min_ratio` at the end of the run.

    The end is whichever limit stops the run first: `total_steps`, or the time budget when
    `time_progress()` (the share of it already spent) is given. So a run stopped by `--trainer.max_time`
    still decays fully, and a resumed run continues where the restored step count and time left off.
    """
    if kind not in SCHEDULES:
        raise StudioError(f"unknown scheduler {kind!r}: choose one of {', '.join(SCHEDULES)}")

    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if kind == "constant":
            return 1.0
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        if time_progress is not None:
            progress = max(progress, time_progress())
        progress = min(1.0, progress)
        shape = 0.5 * (1 + math.cos(math.pi * progress)) if kind == "cosine" else 1 - progress
        return min_ratio + (1 - min_ratio) * shape

    return multiplier


def time_budget(trainer: Optional[L.Trainer]) -> Optional[Callable[[], float]]:
    """The share of `--trainer.max_time` already spent (Lightning's Timer, restored on resume); None without one."""
    if trainer is None:
        return None
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # type: ignore[attr-defined]
    duration = getattr(timer, "_duration", None)
    if timer is None or not duration:
        return None
    return lambda: timer.time_elapsed(RunningStage.TRAINING) / duration


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
    clock = time_budget(module.trainer if module._trainer else None)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_multiplier(hp.scheduler, hp.warmup_steps, total, hp.min_lr_ratio, clock)
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"}}
