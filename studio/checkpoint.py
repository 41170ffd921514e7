"""The Studio checkpoint: Lightning's checkpoint plus a `studio` entry (version, task, codec) as plain data.

Checkpoints are read with `weights_only=True`, so opening one never runs pickled code (and written
atomically by `studio.training.checkpoint_io`, so a reader never sees a half-written file). Before a
file is opened, what opening it would hold (its records as its zip directory declares them, inflated) is
checked against the free memory, so a small file that inflates to gigabytes is refused unread.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from studio import __version__
from studio.errors import StudioError
from studio.resources import check_memory

# 2: `task` names the task (text, midi, speech_tagging, ...); 1 named the model's role and left the task to the codec.
FORMAT = 2
# A Studio checkpoint's zip directory lists one record per tensor: a few hundred, well under a megabyte.
MAX_DIRECTORY_BYTES = 16 * 1024**2


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint's contents safely and check its structure, with one-line errors for every way it can be wrong."""
    file = Path(path).expanduser()
    if not file.exists():
        raise StudioError(f"checkpoint {path} does not exist: pass a .ckpt file, e.g. checkpoints/<run>/last.ckpt")
    if not file.is_file():
        what = "a folder" if file.is_dir() else "not a regular file"
        raise StudioError(f"checkpoint {path} is {what}: pass a .ckpt file, e.g. checkpoints/<run>/last.ckpt")
    check_memory(
        f"checkpoint {path}",
        opened_size(file, str(path)),
        "its tensors, as the file declares them once unpacked, would not fit: free memory, or use a checkpoint "
        "of a smaller model",
    )
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" not in str(error):  # only an import of a global means the file asked to run code
            raise StudioError(
                f"checkpoint {path} cannot be read (corrupt or truncated): pass a complete .ckpt written by `studio fit`"
            ) from None
        raise StudioError(
            f"checkpoint {path} holds objects that could run code when opened, so it was refused: "
            "only open checkpoints written by Studio"
        ) from None
    except OSError as error:
        raise StudioError(f"checkpoint {path} cannot be read ({error.strerror or type(error).__name__})") from None
    except Exception as error:  # torch raises several types for truncated or foreign files
        raise StudioError(
            f"checkpoint {path} cannot be read ({type(error).__name__}): it is corrupt or not a PyTorch checkpoint"
        ) from None
    check_structure(checkpoint, str(path))
    return checkpoint


def opened_size(file: Path, path: str) -> int:
    """Bytes `torch.load` would hold to open `file`: its zip archive's records at the sizes its directory declares
    (a compressed record may inflate a thousandfold), or, for an older format, the file's own size.

    Only the archive's end record and directory are read, and the directory only when it is of a size a
    checkpoint's can be: a larger one is refused in one line.
    """
    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # the end record (zip64 too); None: no zip
        if end is None:
            return size
        if end[zipfile._ECD_SIZE] > MAX_DIRECTORY_BYTES:  # type: ignore[attr-defined]
            raise StudioError(
                f"checkpoint {path} lists a {end[zipfile._ECD_SIZE] / 1024**2:,.0f} MB directory of records, "  # type: ignore[attr-defined]
                "far more than a checkpoint holds, so it was refused: pass a .ckpt written by `studio fit`"
            )
        with zipfile.ZipFile(file) as archive:
            return max(size, sum(info.file_size for info in archive.infolist()))
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, IndexError, TypeError):
        return file.stat().st_size if file.exists() else 0  # torch.load reports what is wrong with it


def check_structure(checkpoint: Any, path: str) -> None:
    """StudioError naming the first thing about a loaded checkpoint that is not what Studio writes."""
    if not isinstance(checkpoint, dict) or "studio" not in checkpoint or "state_dict" not in checkpoint:
        raise StudioError(
            f"{path} is not a Studio checkpoint: pass one written by `studio fit` (checkpoints/<run>/*.ckpt)"
        )
    meta = checkpoint["studio"]
    if not isinstance(meta, dict):
        raise _damaged(path, f"its studio entry is a {type(meta).__name__}, not a mapping")
    version = meta.get("format", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise _damaged(path, f"its format field is {version!r}, not a whole number")
    if version > FORMAT:
        raise StudioError(
            f"{path} was written by Studio {meta.get('version', '?')} (checkpoint format {version}), newer than this "
            f"one ({__version__}, format {FORMAT}): upgrade Studio to open it"
        )
    if not isinstance(meta.get("task"), str):
        raise _damaged(path, f"its task is {meta.get('task')!r}, not a name")
    if meta.get("codec") is not None and not isinstance(meta["codec"], dict):
        raise _damaged(path, f"its codec is a {type(meta['codec']).__name__}, not a mapping")
    hparams = checkpoint.get("hyper_parameters", {})
    if not isinstance(hparams, dict) or not all(isinstance(key, str) for key in hparams):
        raise _damaged(path, "its hyper_parameters are not a mapping of names to values")
    state = checkpoint["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()
    ):
        raise _damaged(path, "its state_dict is not a mapping of parameter names to tensors")


def tensor_shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of a state dict (what fitting it to a model needs, without the weights)."""
    return {name: tuple(tensor.shape) for name, tensor in state.items()}


def check_state_shapes(
    expected: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]], path: str, fix: str
) -> None:
    """StudioError when a checkpoint's tensors do not fit a model's (missing, unexpected or differently shaped)."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        names = ", ".join((missing or unexpected)[:3])
        what = "lacks" if missing else "has parameters the model does not:"
        raise StudioError(f"{path} does not fit the model: it {what} {names}; {fix}")
    for name, shape in expected.items():
        if stored[name] != shape:
            raise StudioError(
                f"{path} does not fit the model: {name} is {stored[name]} in the checkpoint but {shape} in the model; {fix}"
            )


def _damaged(path: str, what: str) -> StudioError:
    return StudioError(f"{path} is damaged or not written by Studio ({what}): use an intact checkpoint of the run")
