"""`studio fit`'s memory estimate: the model its settings describe and one batch of its data, checked against
the free memory before either is built (the model on PyTorch's `meta` device first, which allocates nothing).

A training step holds the weights, their gradients and AdamW's two moments (16 bytes a parameter in
float32), and what the forward pass keeps for the backward one: per batch row and time step, about 16
floats per hidden unit of every recurrent layer and direction (gates, cell and hidden states, their
gradients: measured 12-18 for LSTM and GRU stacks on a CPU, 5 for plain RNNs), and 3 per output or
embedding unit (logits, probabilities, gradient). The bound is generous on purpose: a refusal names the
setting to lower, while an allocation that fails half-way is a traceback or a machine that swaps.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

import torch
from jsonargparse import Namespace
from torch import nn

from studio.nn.shapes_only import shapes_only
from studio.resources import check_memory

# Bytes a parameter takes while training: float32 weight, gradient, and AdamW's two moments.
TRAINING_BYTES_PER_PARAMETER = 16
# Floats the forward pass keeps per batch row and step, per hidden unit of each recurrent layer and direction.
RECURRENT_FLOATS = 16
# ... and once per recurrent module (its input and output sequences, and their gradients).
RECURRENT_EXTRA = 8
# ... per output unit of a linear layer (logits, probabilities, gradient) and per embedding unit.
OUTPUT_FLOATS = 3
MODEL_SIZES = ("hidden_size", "num_layers", "embedding_dim", "projection_size")


def floats_per_step(model: nn.Module) -> int:
    """Floats a training step keeps per batch row and time step (see the module's docstring)."""
    total = 0
    for module in model.modules():
        if isinstance(module, nn.RNNBase):
            directions = 2 if module.bidirectional else 1
            total += (RECURRENT_FLOATS * module.num_layers * directions + RECURRENT_EXTRA) * module.hidden_size
        elif isinstance(module, nn.Linear):
            total += OUTPUT_FLOATS * module.out_features
        elif isinstance(module, nn.Embedding):
            total += OUTPUT_FLOATS * module.embedding_dim
    return total


def trains_on_cpu(accelerator: Any) -> bool:
    """Whether a run with this `--trainer.accelerator` trains in this machine's memory (not a GPU's)."""
    if isinstance(accelerator, str) and accelerator.lower() == "cpu":
        return True
    if accelerator not in (None, "auto"):
        return False
    from lightning.fabric.accelerators.cuda import num_cuda_devices  # NVML's count: CUDA is not initialised

    return num_cuda_devices() == 0 and not torch.backends.mps.is_available()


def check_fit_memory(model_config: Namespace, datamodule: Any, accelerator: Any) -> None:
    """StudioError in one line, naming the setting to lower, when training the configured model on the data's
    batches would not fit in the free memory (on a GPU: when building the model would not)."""
    module, _, name = str(model_config.class_path).rpartition(".")
    init_args = model_config.get("init_args") or Namespace()
    settings = init_args.as_dict() if isinstance(init_args, Namespace) else dict(init_args)
    try:
        with shapes_only():
            model = getattr(importlib.import_module(module), name)(**settings)
    except (TypeError, ValueError, RuntimeError, OverflowError, AttributeError, ImportError):
        return  # the real build reports these in its own words
    parameters = sum(p.numel() for p in model.parameters())
    shape = datamodule.batch_shape() if hasattr(datamodule, "batch_shape") else None
    sizes = ", ".join(f"--model.init_args.{key} {settings[key]}" for key in MODEL_SIZES if key in settings)
    model_fix = f"make the model smaller ({sizes})" if sizes else "make the model smaller"
    if not trains_on_cpu(accelerator):  # a GPU run builds the model here, then trains in the GPU's memory
        check_memory(f"the model ({parameters:,} parameters)", 4 * parameters, model_fix)
        return
    weights = TRAINING_BYTES_PER_PARAMETER * parameters
    activations = _batch_bytes(model, shape)
    if shape is None or weights >= activations:
        what = f"training a model of {parameters:,} parameters"
        check_memory(what, weights + activations, model_fix)
        return
    rows, steps, names = shape
    lower = " or ".join(f"--data.init_args.{name}" for name in dict.fromkeys(reversed(names)))
    check_memory(
        f"training on batches of {rows:,} x {steps:,} steps", weights + activations, f"lower {lower}, or {model_fix}"
    )


def _batch_bytes(model: nn.Module, shape: Optional[tuple[int, int, Any]]) -> int:
    """Bytes the forward pass keeps for the backward one over a batch of `shape` (0 when the data cannot tell)."""
    if shape is None:
        return 0
    return 4 * shape[0] * shape[1] * floats_per_step(model)
