"""Load a Studio checkpoint for inference: the network of its task, on a device, with its codec.

Inference builds the task's plain torch network (`studio.nets`), never its LightningModule, so
sampling, tagging and classifying start without importing Lightning. The network takes the
hyper-parameters that shape it; the training ones (learning rate, schedule, ...) are left aside.

Nothing in the file is trusted before it is checked: the structure first (`studio.checkpoint`), then
the hyper-parameters build the network on PyTorch's `meta` device (no memory), whose parameter shapes
must match the stored tensors; only then is the real network built and filled.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from studio.checkpoint import check_state_shapes, read_checkpoint, tensor_shapes
from studio.codecs import Codec, codec_from_dict
from studio.errors import StudioError
from studio.nn.shapes_only import shapes_only
from studio.resources import check_memory

if TYPE_CHECKING:
    from studio.generation.tasks import Task


@dataclass
class LoadedCheckpoint:
    """A model ready for inference, its codec, the checkpoint's `studio` entry, and the settings that built the model."""

    model: nn.Module
    codec: Any
    meta: dict[str, Any]
    path: Path
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> Task:
        """The task of the checkpoint (its record in `studio.generation.tasks`)."""
        from studio.generation.tasks import task_of

        return task_of(self.meta, str(self.path))


def network_settings(cls: type[nn.Module], hparams: dict[str, Any], path: str) -> dict[str, Any]:
    """The stored hyper-parameters that `cls` takes (the network's shape; its training settings stay behind).

    StudioError for a setting neither the network nor its training knows: the file is damaged or from
    another version.
    """
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    known = accepted | set(getattr(cls, "training_settings", ()))
    unknown = sorted(key for key in hparams if key not in known and not key.startswith("_"))
    if unknown:
        raise StudioError(
            f"{path} has hyper-parameters {cls.__name__} does not take ({', '.join(unknown[:3])}): "
            "it is damaged or from another version"
        )
    return {key: value for key, value in hparams.items() if key in accepted}


def build_model(cls: type[nn.Module], hparams: dict[str, Any], path: str, device: str = "cpu") -> Any:
    """`cls(**hparams)` on `device` ("meta": shapes only); StudioError in one line when the hyper-parameters cannot build it."""
    try:
        with shapes_only() if device == "meta" else torch.device(device):
            return cls(**hparams)
    except StudioError as error:
        raise StudioError(f"{path} holds hyper-parameters that cannot build a model: {error}") from None
    except Exception as error:  # wrong types or ranges that the constructor's own checks did not name
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}" if str(error) else type(error).__name__
        raise StudioError(f"{path} holds hyper-parameters that cannot build a model ({reason})") from None


def load_for_inference(reference: str, device: str = "cpu") -> LoadedCheckpoint:
    """Rebuild the model and its codec from a checkpoint alone (the network is its task's).

    `reference` is a checkpoint file, a bundled model's name or a URL (see `studio.generation.references`).
    """
    from studio.generation.references import resolve_checkpoint
    from studio.generation.tasks import task_of

    path = str(resolve_checkpoint(reference))
    checkpoint = read_checkpoint(path)
    meta = checkpoint["studio"]
    task = task_of(meta, path)
    if not meta.get("codec"):
        raise StudioError(f"{path} holds no codec, so its inputs and outputs cannot be read: it is damaged")
    codec: Codec = codec_from_dict(meta["codec"])
    net = task.net
    hparams = network_settings(net, checkpoint.get("hyper_parameters", {}), path)
    shell = build_model(net, hparams, path, "meta")
    check_state_shapes(
        tensor_shapes(shell.state_dict()),
        tensor_shapes(checkpoint["state_dict"]),
        path,
        "the checkpoint is damaged or its file was edited",
    )
    weights = sum(t.numel() * t.element_size() for t in shell.state_dict().values())
    check_memory(f"the model of {path}", weights, "free memory, or use a smaller model")
    model = build_model(net, hparams, path)
    model.load_state_dict(checkpoint["state_dict"])
    model.to(device).eval()
    return LoadedCheckpoint(model, codec, meta, Path(path), hparams)
