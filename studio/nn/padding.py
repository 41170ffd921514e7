"""Running a recurrent stack over a padded batch so that no padding ever reaches a real step."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from studio.nn.recurrent import RecurrentStack, make_rnn


def run_over_padding(stack: RecurrentStack, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Outputs of `stack` over the padded batch `x` [B, T, F] with no padding reaching a real step.

    A forward-only stack reads padding only after an item's last step, so it runs as it is. A
    bidirectional one is packed on CUDA, where cuDNN handles packed batches natively. Elsewhere
    PyTorch's packed kernels are unfused and several times slower than padded ones, so each layer
    runs its two directions over the padded batch, the backward one on every item reversed within
    its own length: the same numbers as packing, at the speed of the fused kernels.
    """
    rnn = stack.rnn
    if not rnn.bidirectional:
        return rnn(x)[0]
    if x.is_cuda:
        return stack(x, lengths=lengths)[0]
    steps = torch.arange(x.shape[1], device=x.device)[None, :]
    backwards = lengths.to(x.device)[:, None] - 1 - steps
    reverse = torch.where(backwards >= 0, backwards, steps)  # padding stays where it is, after the item
    names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if rnn.bias else ())
    hidden = x
    for layer in range(rnn.num_layers):
        if layer:
            hidden = F.dropout(hidden, rnn.dropout, rnn.training)  # as nn.RNNBase does between layers
        outputs = []
        for suffix in ("", "_reverse"):
            weights = {f"{name}_l0": getattr(rnn, f"{name}_l{layer}{suffix}") for name in names}
            inputs = _time_gather(hidden, reverse) if suffix else hidden
            out = functional_call(_one_layer(stack.cell, hidden.shape[-1], rnn.hidden_size), weights, (inputs,))[0]
            outputs.append(_time_gather(out, reverse) if suffix else out)
        hidden = torch.cat(outputs, dim=-1)
    return hidden * (steps < lengths.to(x.device)[:, None])[..., None].to(hidden.dtype)


def _time_gather(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[-1]))


@functools.cache
def _one_layer(cell: str, input_size: int, hidden_size: int) -> nn.RNNBase:
    """A one-layer, one-direction module to call with a stack's weights (its own are never used)."""
    return make_rnn(cell, input_size, hidden_size, 1, 0.0, False)
