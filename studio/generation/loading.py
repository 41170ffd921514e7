"""Load a Studio checkpoint for inference: the model of its task, on a device, with its codec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import lightning as L

from studio.checkpoint import read_checkpoint
from studio.codecs import Codec, codec_from_dict
from studio.errors import StudioError


@dataclass
class LoadedCheckpoint:
    """A model ready for inference, its codec, and the checkpoint's `studio` entry."""

    model: L.LightningModule
    codec: Any
    meta: dict[str, Any]
    path: Path


def load_for_inference(path: str, task: Optional[str], device: str = "cpu") -> LoadedCheckpoint:
    """Rebuild the model and its codec from a checkpoint alone; `task` (when given) is the one it must be."""
    from studio.models import MODELS

    checkpoint = read_checkpoint(path)
    meta = checkpoint["studio"]
    if meta.get("task") not in MODELS or (task is not None and meta.get("task") != task):
        raise StudioError(f"{path} is a {meta.get('task')} checkpoint, not a {task} one: pass a checkpoint trained for this command")
    hparams = {k: v for k, v in checkpoint.get("hyper_parameters", {}).items() if not k.startswith("_")}
    model = MODELS[meta["task"]](**hparams)
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device).eval()
    codec: Codec | None = codec_from_dict(meta["codec"]) if meta.get("codec") else None
    return LoadedCheckpoint(model, codec, meta, Path(path))
