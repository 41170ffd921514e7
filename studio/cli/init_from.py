"""`studio fit --init_from NAME_OR_PATH`: a new run that starts from a bundled model's (or any checkpoint's) weights.

Fine-tuning needs the same task and the same codec (vocabulary, event settings, label set) as the data
gives, and the same model sizes; anything else is refused in one line before training starts.
"""

from __future__ import annotations

from typing import Any

import lightning as L

from studio.checkpoint import check_state_shapes, read_checkpoint, tensor_shapes
from studio.errors import StudioError
from studio.generation.references import resolve_checkpoint
from studio.generation.tasks import task_for, task_of


def load_initial_weights(model: L.LightningModule, codec: Any, reference: str) -> None:
    """Fill `model` with the weights of `reference`, after checking its task, codec and sizes fit."""
    path = str(resolve_checkpoint(reference))
    checkpoint = read_checkpoint(path)
    stored = task_of(checkpoint["studio"], path)
    wanted = task_for(model, codec.kind)
    if stored is not wanted:
        raise StudioError(
            f"--init_from {reference} is a {stored.name} model, but this run trains {wanted.name}: start from a {wanted.name} model"
        )
    if checkpoint["studio"].get("codec") != codec.to_dict():
        raise StudioError(
            f"--init_from {reference} reads its data with another codec ({_difference(checkpoint['studio'].get('codec') or {}, codec.to_dict())}): "
            "fine-tune on data the model's codec reads (same vocabulary or event settings), or train from scratch"
        )
    check_state_shapes(
        tensor_shapes(model.state_dict()),
        tensor_shapes(checkpoint["state_dict"]),
        path,
        "use the model settings it was trained with (see `studio models NAME`), or train from scratch",
    )
    model.load_state_dict({k: v.to(model.state_dict()[k].dtype) for k, v in checkpoint["state_dict"].items()})


def _difference(stored: dict[str, Any], data: dict[str, Any]) -> str:
    """The first codec setting that differs, in words."""
    for key in sorted(set(stored) | set(data)):
        if stored.get(key) != data.get(key):
            if key in ("tokenizer", "labels", "words", "chars"):
                return f"its {key} differ from the data's"
            return f"{key} {stored.get(key)!r} against the data's {data.get(key)!r}"
    return "they differ"
