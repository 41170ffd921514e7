"""What each token is drawn from: temperature, top-k and top-p settings, the filter they make, and the draw."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from studio.errors import StudioError

# Temperatures are applied within this range (float32 holds both ends; beyond them nothing changes).
TEMPERATURE_RANGE = (1e-30, 1e30)


@dataclass(frozen=True)
class SamplingSettings:
    """Temperature, top-k (0 = off) and nucleus top-p (1 = off)."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise StudioError(f"--temperature {self.temperature} must be > 0 (try 0.8 for safer text, 1.2 for wilder)")
        if not 0 < self.top_p <= 1:
            raise StudioError(f"--top_p {self.top_p} must be in (0, 1] (1 turns nucleus sampling off)")
        if self.top_k < 0:
            raise StudioError(f"--top_k {self.top_k} must be >= 0 (0 turns it off)")


def filter_logits(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """Scale by temperature and mask everything outside the top-k and the top-p nucleus with -inf.

    The likeliest token always survives, so any valid settings leave something to draw.
    """
    # Shifting by the maximum first keeps every extreme temperature finite: the best token scores 0. The
    # temperature is held where float32 still represents it (below: greedy; above: uniform, as asked).
    temperature = min(max(settings.temperature, TEMPERATURE_RANGE[0]), TEMPERATURE_RANGE[1])
    logits = (logits - logits.amax(-1, keepdim=True)) / temperature
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already cover top_p (the first always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= settings.top_p
        drop_sorted[..., 0] = False  # even when top_p rounds to 0 in float32
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row of `probs` [batch, vocab], by inverse CDF: one uniform number per row from `generator`.

    Exact like torch.multinomial but far cheaper per row on a CPU; a zero-probability token is never drawn.
    """
    return draw_with(probs, torch.rand(probs.shape[0], generator=generator, device=probs.device))


def draw_with(probs: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """One token per row of `probs` [batch, vocab] by inverse CDF, given one uniform number in [0, 1) per row.

    1 - u lies in (0, 1], so the target lies in (0, total]: the first token whose cumulative probability
    reaches it exists and has a probability above zero (rounding cannot push it past the total).
    """
    cdf = probs.cumsum(-1)
    target = (1 - uniform.to(cdf.dtype))[:, None] * cdf[:, -1:]
    return torch.searchsorted(cdf, target).squeeze(1)
