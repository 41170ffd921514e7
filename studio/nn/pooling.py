"""One vector per sequence from a recurrent stack's outputs over a padded batch: last state, mean, or attention.

Every pooling reads only each item's own steps, so padding never changes a result.
"""

from __future__ import annotations

import torch
from torch import nn

from studio.errors import StudioError

POOLINGS = ("last", "mean", "attention")


def valid_steps(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """A [B, T] mask: True at each item's real steps."""
    return torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]


class SequencePooling(nn.Module):
    """Pools [B, T, H] outputs (of a stack with `directions` 1 or 2) into [B, H] by `kind`."""

    def __init__(self, kind: str, size: int, directions: int) -> None:
        super().__init__()
        if kind not in POOLINGS:
            raise StudioError(f"--model.init_args.pooling {kind!r} is unknown: choose one of {', '.join(POOLINGS)}")
        self.kind, self.directions = kind, directions
        self.score = (
            nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1)) if kind == "attention" else None
        )

    def forward(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The pooled vector of each item; `lengths` [B] counts its real steps (at least 1)."""
        lengths = lengths.to(outputs.device).clamp_min(1)
        if self.kind == "last":
            return self._last(outputs, lengths)
        mask = valid_steps(lengths, outputs.shape[1])
        if self.kind == "mean":
            summed = (outputs * mask[..., None].to(outputs.dtype)).sum(1)
            return summed / lengths[:, None].to(outputs.dtype)
        assert self.score is not None
        scores = self.score(outputs).squeeze(-1).masked_fill(~mask, float("-inf"))
        return (scores.softmax(-1)[..., None] * outputs).sum(1)

    def _last(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The forward direction after the last real step; the backward direction after reading back to the first."""
        index = (lengths - 1)[:, None, None].expand(-1, 1, outputs.shape[-1])
        last = outputs.gather(1, index).squeeze(1)
        if self.directions == 1:
            return last
        half = outputs.shape[-1] // 2
        return torch.cat((last[:, :half], outputs[:, 0, half:]), dim=-1)
