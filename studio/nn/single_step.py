"""One time step of a fused nn.RNN/GRU/LSTM through the single-step cell kernels: the same maths, far less overhead.

On a CPU, the fused modules pay a large fixed cost per call (oneDNN sets up a whole sequence), which
dominates when sampling feeds one token at a time; PyTorch's single-step cell kernels (those behind
nn.LSTMCell and friends) do the same step in a fraction of the time. Equal to the fused module up to
float rounding (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from studio.nn.state import State

# The single-step cell kernels PyTorch's nn.LSTMCell/GRUCell/RNNCell use, keyed by nn.RNNBase.mode.
CELL_OPS: dict[str, Callable[..., Any]] = {
    "LSTM": torch.lstm_cell,
    "GRU": torch.gru_cell,
    "RNN_TANH": torch.rnn_tanh_cell,
    "RNN_RELU": torch.rnn_relu_cell,
}


def can_step(rnn: nn.RNNBase) -> bool:
    """True when step() covers this module: one direction, no LSTM projection, with biases."""
    return not rnn.bidirectional and getattr(rnn, "proj_size", 0) == 0 and rnn.bias


def step(rnn: nn.RNNBase, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
    """Run x [batch, input] through every layer once; returns the top layer's output [batch, hidden] and the new state."""
    layers, batch, hidden = rnn.num_layers, x.shape[0], rnn.hidden_size
    if state is None:
        zeros = x.new_zeros(layers, batch, hidden)
        state = (zeros, zeros) if isinstance(rnn, nn.LSTM) else zeros
    cell = CELL_OPS[rnn.mode]
    new_h, new_c = [], []
    for k in range(layers):
        weights = [getattr(rnn, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        if isinstance(rnn, nn.LSTM):
            x, c = cell(x, (state[0][k], state[1][k]), *weights)
            new_c.append(c)
        else:
            x = cell(x, state[k], *weights)
        new_h.append(x)
    h_out = torch.stack(new_h)
    return x, ((h_out, torch.stack(new_c)) if isinstance(rnn, nn.LSTM) else h_out)
