"""How the Trainer writes Studio checkpoints: the `studio` entry, and atomic files."""

from __future__ import annotations

from typing import Any, Optional

import lightning as L
from lightning.pytorch.plugins.io import TorchCheckpointIO

from studio import __version__
from studio.checkpoint import FORMAT
from studio.generation.tasks import task_for
from studio.io import atomic_path


class StudioMetadata(L.Callback):
    """Writes the `studio` entry into every checkpoint: what sampling needs without config or data."""

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        """Add version, task and the data module's codec to `checkpoint`."""
        codec = trainer.datamodule.codec
        checkpoint["studio"] = {
            "format": FORMAT,
            "version": __version__,
            "task": task_for(pl_module, codec.kind).name,
            "codec": codec.to_dict(),
        }


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        """Write `checkpoint` to `path` atomically."""
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)
