"""What Studio's LightningModules share: checked optimizer settings, AdamW with its schedule, evaluation logging."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from studio.errors import StudioError
from studio.models.schedules import SCHEDULES, configure_adamw

# Shown in the progress bar besides the loss.
PROGRESS_METRICS = ("loss", "frame_acc", "ler", "acc")


def check_optimizer_settings(
    lr: float,
    weight_decay: float,
    betas: Any,
    scheduler: str,
    warmup_steps: int,
    min_lr_ratio: float,
) -> None:
    """One-line errors for optimizer settings that AdamW or the schedule would refuse, or that cannot train."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise StudioError(f"--model.init_args.lr {lr!r} must be a positive number, e.g. 2e-3")
    if not (isinstance(weight_decay, (int, float)) and math.isfinite(weight_decay) and weight_decay >= 0):
        raise StudioError(f"--model.init_args.weight_decay {weight_decay!r} must be >= 0, e.g. 0.01")
    if not (len(betas) == 2 and all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
        raise StudioError(f"--model.init_args.betas {list(betas)!r} must be two numbers in [0, 1), e.g. [0.9, 0.99]")
    if scheduler not in SCHEDULES:
        raise StudioError(f"--model.init_args.scheduler {scheduler!r} is unknown: choose one of {', '.join(SCHEDULES)}")
    if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise StudioError(f"--model.init_args.warmup_steps {warmup_steps!r} must be a whole number >= 0")
    if not (isinstance(min_lr_ratio, (int, float)) and 0 <= min_lr_ratio <= 1):
        raise StudioError(f"--model.init_args.min_lr_ratio {min_lr_ratio!r} must be in [0, 1]")


class StudioModule(L.LightningModule):
    """Base of Studio's models: AdamW with warm-up and decay, and evaluation logging (their tasks name them).

    Subclasses take `lr`, `weight_decay`, `betas`, `scheduler`, `warmup_steps` and `min_lr_ratio` and
    call `check_optimizer_settings` on them; the learning rate is logged by Lightning's
    `LearningRateMonitor`, which `studio fit` adds whenever a logger is on.
    """

    def configure_optimizers(self) -> Any:
        """AdamW with warm-up and the configured decay (see `studio.models.schedules.configure_adamw`)."""
        return configure_adamw(self)

    def log_evaluation(self, split: str, values: dict[str, torch.Tensor]) -> None:
        """Log `{split}_{name}` for every value (already reduced across ranks), the usual ones in the progress bar."""
        for name, value in values.items():
            # sync_dist only keeps Lightning from warning: the metrics are reduced across ranks already.
            self.log(f"{split}_{name}", value, prog_bar=name in PROGRESS_METRICS, sync_dist=True)
