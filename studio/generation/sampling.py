"""Batched, stateful generation: the prompt is read once, then each new token costs one recurrent step."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

import torch
from torch import nn

from studio.errors import StudioError
from studio.nn.state import select_state


class Constraint(Protocol):
    """Restricts what may come next (e.g. a MIDI grammar); batched over the samples."""

    def reset(self, batch_size: int) -> None: ...

    def allowed(self) -> torch.Tensor: ...  # bool [batch, vocab]

    def update(self, tokens: torch.Tensor) -> None: ...  # long [batch]

    def finished(self) -> torch.Tensor: ...  # bool [batch]

    def keep(self, rows: torch.Tensor) -> None: ...  # long [new batch]: narrow the batch to these rows


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
    # Shifting by the maximum first keeps every extreme temperature finite: the best token scores 0.
    logits = (logits - logits.amax(-1, keepdim=True)) / settings.temperature
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token when the tokens before it already cover top_p (the first always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(-1)) >= settings.top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def draw(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One token per row of `probs` [batch, vocab], by inverse CDF: one uniform number per row.

    Exact like torch.multinomial but far cheaper per row on a CPU; a zero-probability token is never drawn.
    """
    cdf = probs.cumsum(-1)
    u = torch.rand(probs.shape[0], 1, generator=generator, device=probs.device, dtype=cdf.dtype)
    # 1 - u lies in (0, 1], so the target lies in (0, total]: the first token whose cumulative
    # probability reaches it exists and has a probability above zero (rounding cannot push it past the total).
    return torch.searchsorted(cdf, (1 - u) * cdf[:, -1:]).squeeze(1)


def check_request(length: int, num_samples: int, prompt: Sequence[int]) -> None:
    """One-line errors for a generation request that cannot run."""
    if length <= 0:
        raise StudioError(f"--length {length} must be > 0")
    if num_samples <= 0:
        raise StudioError(f"--num_samples {num_samples} must be > 0")
    if not prompt:
        raise StudioError("the prompt is empty: give at least one token")


def conditioned_step(model: nn.Module, controls: Optional[torch.Tensor]) -> Callable[[torch.Tensor, Any], tuple]:
    """`model(tokens, state)`, with the constant `controls` [control_dim] beside every token when given."""
    if controls is None:
        return model
    device = next(model.parameters()).device
    controls = torch.as_tensor(controls, dtype=torch.float32, device=device)
    return lambda tokens, state: model(tokens, state, controls=controls.expand(*tokens.shape, -1))


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run the block with `model` in eval mode, and give it back its training mode afterwards, whatever happens."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def prefill(
    run: Callable[[torch.Tensor, Any], tuple], prompt: Sequence[int], rows: int, device: torch.device
) -> tuple[torch.Tensor, Any]:
    """Read the prompt once; the last step's logits and the state, copied for each of `rows` batch rows."""
    logits, state = run(torch.tensor([list(prompt)], device=device), None)
    state = select_state(state, torch.zeros(rows, dtype=torch.long, device=device))
    return logits[:, -1].expand(rows, -1), state


def next_scores(logits: torch.Tensor, constraint: Optional[Constraint], settings: SamplingSettings) -> torch.Tensor:
    """The log-scores a token is drawn from: grammar mask, then temperature, top-k and top-p."""
    scores = logits.float()
    if constraint is not None:
        scores = scores.masked_fill(~constraint.allowed().to(scores.device), float("-inf"))
    return filter_logits(scores, settings)


@torch.no_grad()
def generate(
    model: nn.Module,
    prompt: Sequence[int],
    length: int,
    num_samples: int = 1,
    settings: SamplingSettings = SamplingSettings(),
    seed: int = 0,
    constraint: Optional[Constraint] = None,
    controls: Optional[torch.Tensor] = None,
) -> list[list[int]]:
    """Continue `prompt` by up to `length` tokens for each of `num_samples` samples, all in one batch.

    The same seed gives the same samples. With a constraint, a sample stops once it is finished and
    leaves the batch. `controls` [control_dim] go beside every step of a conditioned model.
    """
    check_request(length, num_samples, prompt)
    with evaluating(model):
        device = next(model.parameters()).device
        generator = torch.Generator(device=device).manual_seed(seed)
        run = conditioned_step(model, controls)
        logits, state = prefill(run, prompt, num_samples, device)
        if constraint is not None:
            constraint.reset(num_samples)
        out = torch.empty(num_samples, length, dtype=torch.long, device=device)
        done_at = torch.full((num_samples,), length, dtype=torch.long, device=device)
        active = torch.arange(num_samples, device=device)  # the sample each batch row belongs to
        steps = 0
        for step in range(length):
            token = draw(next_scores(logits, constraint, settings).softmax(-1), generator)
            out[active, step] = token
            steps = step + 1
            if constraint is not None:
                constraint.update(token)
                finished = constraint.finished().to(device)
                if bool(finished.any()):
                    # Finished samples leave the batch, so the rest step as a smaller (cheaper) batch.
                    done_at[active[finished]] = step + 1
                    keep = (~finished).nonzero().squeeze(1)
                    if keep.numel() == 0:
                        break
                    active, token, state = active[keep], token[keep], select_state(state, keep)
                    constraint.keep(keep)
            logits, state = run(token[:, None], state)
            logits = logits[:, -1]
    lengths = done_at.clamp(max=steps).tolist()
    return [row[:n] for row, n in zip(out[:, :steps].tolist(), lengths)]
