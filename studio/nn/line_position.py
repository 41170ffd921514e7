"""Where each character stands on its line: an input that lets a character model learn hard-wrapped text.

A recurrent network has to count to learn that a corpus breaks its lines near column 70 (as Project
Gutenberg texts do); with a few minutes of CPU training it learns to break after the right words, but
not at the right column. Giving it the column of the next character (0 right after a line break) as
an embedding beside the token's makes the wrap a lookup. The column is computed from the tokens
themselves and carried across chunks, so training, sampling and likelihood see the same numbers.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from studio.nn.state import State


def line_columns(tokens: torch.Tensor, line_break_id: int, start: torch.Tensor) -> torch.Tensor:
    """Column [batch, time] of the character after each token: characters since the last line break.

    `start` [batch] is the column after the token before this chunk (0 at the start of a stream).
    """
    if tokens.shape[1] == 1:  # one sampling step: the same numbers in fewer operations
        return torch.where(tokens == line_break_id, 0, start[:, None] + 1)
    time = torch.arange(1, tokens.shape[1] + 1, device=tokens.device)
    breaks = torch.where(tokens == line_break_id, time, torch.zeros_like(time))
    last_break = torch.cummax(breaks, dim=1).values
    return torch.where(last_break > 0, time - last_break, start[:, None] + time)


class LinePositionEmbedding(nn.Module):
    """A learned vector per column (columns past the last share its vector), added to the token embedding."""

    def __init__(self, positions: int, dim: int, line_break_id: int) -> None:
        super().__init__()
        self.line_break_id = line_break_id
        self.embedding = nn.Embedding(positions, dim)
        nn.init.zeros_(self.embedding.weight)  # starts as no input at all, so early training is the plain model's

    def forward(self, tokens: torch.Tensor, start: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings [batch, time, dim] of each token's column, and the column after the chunk [batch]."""
        if start is None:
            start = tokens.new_zeros(tokens.shape[0])
        columns = line_columns(tokens, self.line_break_id, start)
        clamped = columns.clamp(max=self.embedding.num_embeddings - 1)
        return self.embedding(clamped), clamped[:, -1]


def join_column(state: State, column: torch.Tensor) -> Any:
    """The recurrent state with the column [batch] appended as a [1, batch] tensor (batch on dim 1, like the rest)."""
    return (*(state if isinstance(state, tuple) else (state,)), column[None])


def split_column(state: Optional[Any]) -> tuple[Optional[State], Optional[torch.Tensor]]:
    """Inverse of `join_column`: the recurrent state and the column [batch] (both None for a fresh stream)."""
    if state is None:
        return None, None
    rest = tuple(state[:-1])
    return (rest if len(rest) > 1 else rest[0]), state[-1][0]
