"""Weights & Biases logging that works offline by default and goes online when the user has set it up."""

from __future__ import annotations

import os
from typing import Any, Optional

from lightning.pytorch.loggers import WandbLogger


def wandb_online() -> bool:
    """Online only when asked for (WANDB_MODE=online) or when an API key is configured and not overridden."""
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "disabled", "dryrun"):
        return False
    return mode == "online" or bool(os.environ.get("WANDB_API_KEY"))


class StudioWandbLogger(WandbLogger):
    """A `WandbLogger` whose `offline` defaults to 'unless the user configured W&B'."""

    def __init__(
        self,
        name: Optional[str] = None,
        project: str = "studio",
        save_dir: str = ".",
        offline: Optional[bool] = None,
        log_model: bool = True,
        group: Optional[str] = None,
        **kwargs: Any,
    ) -> None:
        """`offline=None` picks offline unless WANDB_MODE=online or WANDB_API_KEY is set.

        `log_model` uploads checkpoints as W&B artifacts, online only (offline runs keep them on disk).
        """
        offline = (not wandb_online()) if offline is None else offline
        super().__init__(
            name=name,
            project=project,
            save_dir=save_dir,
            offline=offline,
            log_model=log_model and not offline,
            group=group,
            **kwargs,
        )
        # Lightning always passes wandb.init an `anonymous` value, which wandb warns has no effect: leave it out.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)
