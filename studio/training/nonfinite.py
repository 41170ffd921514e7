"""Guards training against non-finite losses and gradients: skip the step, count it, stop before ruin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch

from studio.errors import StudioError
from studio.training.log_steps import loggers_record


class NonFiniteGuard(L.Callback):
    """Skips optimizer steps whose gradients hold NaN/inf; after `max_consecutive` in a row, saves and stops.

    A skipped step leaves the weights untouched (every gradient is dropped, so the optimizer passes
    over every parameter), so the checkpoint written when stopping predates the divergence.
    Logs `train/grad_norm` (before clipping) and `train/skipped_steps` on the steps the loggers record.
    """

    def __init__(self, max_consecutive: int = 10) -> None:
        if isinstance(max_consecutive, bool) or not isinstance(max_consecutive, int) or max_consecutive < 1:
            raise StudioError(
                f"--nonfinite.max_consecutive {max_consecutive!r} must be a whole number >= 1: the steps in a row "
                "with NaN/inf gradients that stop the run, e.g. 10"
            )
        self.max_consecutive = max_consecutive
        self.skipped = 0
        self.consecutive = 0

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        """Measure the gradient norm; drop the gradients when it is not finite."""
        grads = [p.grad for p in pl_module.parameters() if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach().float()) for g in grads]))
        finite = bool(torch.isfinite(norm))
        if loggers_record(trainer, step_done=False):
            pl_module.log("train/grad_norm", norm if finite else torch.tensor(float("nan")))
            pl_module.log("train/skipped_steps", float(self.skipped + (not finite)))
        if finite:
            self.consecutive = 0
        else:
            for parameter in pl_module.parameters():
                parameter.grad = None
            self.skipped += 1
            self.consecutive += 1
        if self.consecutive >= self.max_consecutive:
            self._stop(trainer)

    def _stop(self, trainer: L.Trainer) -> None:
        dirpath = getattr(trainer.checkpoint_callback, "dirpath", None)
        saved = ""
        if dirpath:
            path = Path(dirpath) / "last.ckpt"
            trainer.save_checkpoint(path, weights_only=False)
            saved = f"; saved {path} from before the divergence"
        raise StudioError(
            f"training diverged: {self.consecutive} steps in a row had NaN/inf gradients{saved}; "
            "lower --model.init_args.lr or --trainer.gradient_clip_val, then resume with --ckpt_path last"
        )

    def state_dict(self) -> dict[str, Any]:
        """The skipped-step count survives a resume."""
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the skipped-step count."""
        self.skipped = int(state_dict.get("skipped", 0))
