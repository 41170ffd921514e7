"""The recurrent core shared by every task: a stack of fused RNN/GRU/LSTM layers.

h_t = f(W_h x_t + U_h h_{t-1} + b_h) is computed by PyTorch's fused `nn.RNN/GRU/LSTM`, so cuDNN
(GPU) or oneDNN (CPU) runs the time loop rather than Python.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from studio.errors import StudioError
from studio.nn.single_step import can_step, step
from studio.nn.state import State

CELLS = ("rnn_tanh", "rnn_relu", "gru", "lstm")
# Up to this batch size, a one-token step on a CPU is quicker through the cell kernels (single_step.py).
# Beyond it, sampling 64 texts at once measured 5-15 % slower than with the fused module (2x256 LSTM, 2 cores).
STEP_BATCH_LIMIT = 16


def make_rnn(
    cell: str, input_size: int, hidden_size: int, num_layers: int, dropout: float, bidirectional: bool
) -> nn.RNNBase:
    """Build one fused recurrent module of the named cell type (batch-first)."""
    common = dict(
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        dropout=dropout if num_layers > 1 else 0.0,
        bidirectional=bidirectional,
        batch_first=True,
    )
    if cell in ("rnn_tanh", "rnn_relu"):
        return nn.RNN(nonlinearity=cell.split("_")[1], **common)
    if cell == "gru":
        return nn.GRU(**common)
    if cell == "lstm":
        return nn.LSTM(**common)
    raise StudioError(f"unknown cell {cell!r}: choose one of {', '.join(CELLS)}")


class RecurrentStack(nn.Module):
    """Stacked (optionally bidirectional) recurrent layers with dropout between layers."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        self.cell = cell
        self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, dropout, bidirectional)

    def set_dropout(self, rate: float) -> None:
        """Change the dropout between layers (none with one layer, as when built)."""
        self.rnn.dropout = rate if self.rnn.num_layers > 1 else 0.0

    @property
    def output_size(self) -> int:
        """Features per step in the output (doubled when bidirectional)."""
        return self.rnn.hidden_size * (2 if self.rnn.bidirectional else 1)

    def forward(
        self, x: torch.Tensor, state: Optional[State] = None, lengths: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, State]:
        """Run `x` [batch, time, features]; with `lengths`, padded steps are packed away and output zeros."""
        if lengths is None:
            # One-token steps at inference on a CPU skip the fused module's set-up cost.
            if (
                x.shape[1] == 1
                and x.shape[0] <= STEP_BATCH_LIMIT
                and not self.training
                and x.device.type == "cpu"
                and can_step(self.rnn)
            ):
                out, new_state = step(self.rnn, x[:, 0], state)
                return out[:, None], new_state
            return self.rnn(x, state)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, new_state = self.rnn(packed, state)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, new_state
