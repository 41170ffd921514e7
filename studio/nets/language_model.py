"""LanguageModelNet: embedding -> stacked RNN/GRU/LSTM -> next-token logits (text characters or MIDI events)."""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from studio.errors import StudioError
from studio.nets.checks import OPTIMIZER_SETTINGS, check_recurrent_settings, check_whole
from studio.nn import RecurrentStack, State
from studio.nn.line_position import LinePositionEmbedding, join_column, split_column


class LanguageModelNet(nn.Module):
    """Next-token logits with a carried state, optional weight tying, controls and line columns."""

    # Stored settings of its training (its LightningModule takes them too) that the network leaves aside.
    training_settings: ClassVar[frozenset[str]] = OPTIMIZER_SETTINGS | {"stateful", "dropout_from"}

    def __init__(
        self,
        vocab_size: Optional[int] = None,
        embedding_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        tie_weights: bool = False,
        control_dim: int = 0,
        line_positions: int = 0,
        line_break_id: Optional[int] = None,
    ) -> None:
        """`vocab_size` (and `control_dim`) come from the data; see `studio.models.RecurrentLanguageModel`."""
        super().__init__()
        if vocab_size is None or vocab_size < 1:
            raise StudioError("vocab_size is not set: it comes from the data module (run through `studio fit`)")
        if control_dim < 0:
            raise StudioError(f"control_dim={control_dim} must be >= 0 (it comes from the data module's controls)")
        check_recurrent_settings(hidden_size, num_layers, dropout)
        check_whole("embedding_dim", embedding_dim)
        check_whole("line_positions", line_positions, 0, ", e.g. 128")
        self.control_dim = control_dim
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.line_position = (
            LinePositionEmbedding(line_positions, embedding_dim, line_break_id)
            if line_positions and line_break_id is not None
            else None
        )
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(embedding_dim + control_dim, hidden_size, num_layers, cell, dropout)
        # Tying needs the output features to match the embedding width.
        self.project = nn.Linear(hidden_size, embedding_dim) if tie_weights and hidden_size != embedding_dim else None
        self.head = nn.Linear(embedding_dim if tie_weights else hidden_size, vocab_size)
        if tie_weights:
            self.head.weight = self.embedding.weight

    def forward(
        self, tokens: torch.Tensor, state: Optional[State] = None, controls: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, State]:
        """Logits [batch, time, vocab] for `tokens` [batch, time], and the state after the last step.

        `controls` [batch, time, control_dim] are the controls of the token each step predicts; left
        out, a conditioned model gets zeros, which it is trained to read as "no control".
        """
        inputs, state, column = self._embed(tokens, state)
        inputs = self.dropout(inputs)
        if self.control_dim:
            if controls is None:
                controls = inputs.new_zeros(*tokens.shape, self.control_dim)
            inputs = torch.cat((inputs, controls.to(inputs.dtype)), dim=-1)
        hidden, state = self.rnn(inputs, state)
        hidden = self.dropout(hidden)
        if self.project is not None:
            hidden = self.project(hidden)
        if column is not None:
            state = join_column(state, column)
        return self.head(hidden), state

    def _embed(
        self, tokens: torch.Tensor, state: Optional[State]
    ) -> tuple[torch.Tensor, Optional[State], Optional[torch.Tensor]]:
        """Token embeddings (plus each token's line column when asked), the recurrent state, and the column after."""
        inputs = self.embedding(tokens)
        if self.line_position is None:
            return inputs, state, None
        state, column = split_column(state)  # the state carries the column beside the recurrent state
        position, column = self.line_position(tokens, column)
        return inputs + position, state, column
