"""Batched, stateful generation: the prompt is read once, then each new token costs one recurrent step.

Very many samples are generated in batches of `MAX_BATCH` one after another, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
from torch import nn

from studio.generation.decoding import (
    Constraint,
    GenerationInterrupted,
    Progress,
    TokenBuffer,
    check_request,
    check_request_memory,
    conditioned_step,
    evaluating,
    next_scores,
    prefill,
    report,
)
from studio.generation.filtering import SamplingSettings, draw, filter_logits
from studio.nn.state import select_state
from studio.resources import check_memory

__all__ = ["Constraint", "SamplingSettings", "draw", "filter_logits", "generate"]

# Samples generated together in one batch; more are generated batch after batch.
MAX_BATCH = 256


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
    progress: Optional[Progress] = None,
) -> list[list[int]]:
    """Continue `prompt` by up to `length` tokens for each of `num_samples` samples, in batches of up to MAX_BATCH.

    The same seed gives the same samples. With a constraint, a sample stops once it is finished and
    leaves the batch. `controls` [control_dim] go beside every step of a conditioned model. `progress`
    hears how far the request is; Ctrl-C raises `GenerationInterrupted` holding the rows generated so far.
    """
    check_request(length, num_samples, prompt, seed)
    check_request_memory(model, min(num_samples, MAX_BATCH), length, "ask for a shorter --length or --seconds")
    # Every sample's ids are kept until returned (about 8 bytes a token).
    check_memory(f"{num_samples} sample(s) of up to {length} tokens", 8 * num_samples * length, "ask for fewer samples")
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    rows: list[list[int]] = []
    for first in range(0, num_samples, MAX_BATCH):
        size, before = min(MAX_BATCH, num_samples - first), sum(map(len, rows))

        def batch_progress(
            done: float, tokens: int, first: int = first, size: int = size, before: int = before
        ) -> None:
            if progress is not None:
                progress((first + done * size) / num_samples, before + tokens)

        try:
            rows += _generate_batch(
                model, prompt, length, size, settings, generator, constraint, controls, batch_progress
            )
        except GenerationInterrupted as stop:
            raise GenerationInterrupted(rows + stop.partial) from None
    return rows


def _generate_batch(
    model: nn.Module,
    prompt: Sequence[int],
    length: int,
    num_samples: int,
    settings: SamplingSettings,
    generator: torch.Generator,
    constraint: Optional[Constraint],
    controls: Optional[torch.Tensor],
    progress: Progress,
) -> list[list[int]]:
    """One batch of `generate`: every sample steps together; finished ones leave the batch."""
    with evaluating(model):
        device = next(model.parameters()).device
        run = conditioned_step(model, controls)
        logits, state = prefill(run, prompt, num_samples, device)
        if constraint is not None:
            constraint.reset(num_samples)
        out = TokenBuffer(num_samples, length, device)
        done_at = torch.full((num_samples,), length, dtype=torch.long, device=device)
        active = torch.arange(num_samples, device=device)  # the sample each batch row belongs to
        steps = 0
        try:
            for step in range(length):
                token = draw(next_scores(logits, constraint, settings).softmax(-1), generator)
                out.put(step, token, active)
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
                if progress is not None and steps % 16 == 0:
                    report(progress, steps, length, constraint, int(done_at.clamp(max=steps).sum()))
                logits, state = run(token[:, None], state)
                logits = logits[:, -1]
        except KeyboardInterrupt:
            raise GenerationInterrupted(out.rows(steps, done_at.clamp(max=steps).tolist())) from None
    return out.rows(steps, done_at.clamp(max=steps).tolist())
