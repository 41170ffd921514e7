"""The Studio checkpoint: Lightning's checkpoint plus a `studio` entry (version, task, codec) as plain data.

Checkpoints are read with `weights_only=True`, so opening one never runs pickled code, and written
atomically, so a reader never sees a half-written file.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from studio import __version__
from studio.codecs import codec_from_dict
from studio.errors import StudioError

FORMAT = 1


class StudioMetadata(L.Callback):
    """Writes the `studio` entry into every checkpoint: what sampling needs without config or data."""

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        """Add version, task and the data module's codec to `checkpoint`."""
        codec = getattr(trainer.datamodule, "codec", None)
        checkpoint["studio"] = {
            "format": FORMAT,
            "version": __version__,
            "task": pl_module.task,
            "codec": codec.to_dict() if codec is not None else None,
        }


class AtomicCheckpointIO(TorchCheckpointIO):
    """Saves to a temporary file beside the target, then renames it into place."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        """Write `checkpoint` to `path` atomically."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            super().save_checkpoint(checkpoint, tmp, storage_options)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)


@dataclass
class LoadedCheckpoint:
    """A model ready for inference, its codec, and the checkpoint's `studio` entry."""

    model: L.LightningModule
    codec: Any
    meta: dict[str, Any]
    path: Path


def read_checkpoint(path: str) -> dict[str, Any]:
    """Load a checkpoint's contents safely, with one-line errors for every way it can be wrong."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise StudioError(f"checkpoint {path} does not exist: pass a .ckpt file, e.g. checkpoints/<run>/last.ckpt")
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # only an import of a global means the file asked to run code
            raise StudioError(f"checkpoint {path} cannot be read (corrupt or truncated): pass a complete .ckpt written by `studio fit`") from None
        raise StudioError(
            f"checkpoint {path} holds objects that could run code when opened, so it was refused: "
            "only open checkpoints written by Studio"
        ) from None
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise StudioError(f"checkpoint {path} cannot be read ({type(error).__name__}): it is corrupt or not a PyTorch checkpoint") from None
    if not isinstance(checkpoint, dict) or "studio" not in checkpoint or "state_dict" not in checkpoint:
        raise StudioError(f"{path} is not a Studio checkpoint: pass one written by `studio fit` (checkpoints/<run>/*.ckpt)")
    meta = checkpoint["studio"]
    if not isinstance(meta, dict) or meta.get("format", 0) > FORMAT:
        version = meta.get("version", "?") if isinstance(meta, dict) else "?"
        raise StudioError(f"{path} was written by Studio {version}, newer than this one ({__version__}): upgrade Studio to open it")
    return checkpoint


def load_for_inference(path: str, task: str, device: str = "cpu") -> LoadedCheckpoint:
    """Rebuild the model of `task` and its codec from a checkpoint alone."""
    from studio.models import MODELS

    checkpoint = read_checkpoint(path)
    meta = checkpoint["studio"]
    if meta.get("task") != task or meta.get("task") not in MODELS:
        raise StudioError(f"{path} is a {meta.get('task')} checkpoint, not a {task} one: pass a checkpoint trained for this command")
    hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if not k.startswith("_")}
    model = MODELS[task](**hparams)
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device).eval()
    codec = codec_from_dict(meta["codec"]) if meta.get("codec") else None
    return LoadedCheckpoint(model, codec, meta, Path(path))
