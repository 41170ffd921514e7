"""The Studio checkpoint: Lightning's checkpoint plus a `studio` entry (version, task, codec) as plain data.

Checkpoints are read with `weights_only=True`, so opening one never runs pickled code (and written
atomically by `studio.training.checkpoint_io`, so a reader never sees a half-written file).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from studio import __version__
from studio.errors import StudioError

FORMAT = 1


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
