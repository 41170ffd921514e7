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
    check_request,
    check_request_memory,
)
from studio.generation.filtering import SamplingSettings, draw, filter_logits
from studio.generation.rows import Row, generate_rows, row_seed
from studio.resources import check_memory

__all__ = ["Constraint", "Row", "SamplingSettings", "draw", "filter_logits", "generate", "generate_rows", "row_seed"]

# Samples generated together in one batch; more are generated batch after batch.
MAX_BATCH = 256
# What a finished sample takes until it is returned: its ids as a list of Python ints (up to about 40 bytes a
# token, with the text or events decoded from them), and the list itself.
BYTES_PER_TOKEN = 48
BYTES_PER_SAMPLE = 200


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

    Sample i draws from its own random stream (`row_seed(seed, i)`), so the same seed gives the same
    samples, alone or batched with other requests. With a constraint, a sample stops once it is
    finished and leaves the batch. `controls` [control_dim] go beside every step of a conditioned
    model. `progress` hears how far the request is; Ctrl-C raises `GenerationInterrupted` holding
    the rows generated so far.
    """
    check_request(length, num_samples, prompt, seed)
    check_request_memory(model, min(num_samples, MAX_BATCH), length, "ask for a shorter --length or --seconds")
    # Every sample's ids are kept until returned.
    check_memory(
        f"{num_samples} sample(s) of up to {length} tokens",
        num_samples * (BYTES_PER_SAMPLE + BYTES_PER_TOKEN * length),
        "ask for fewer samples",
    )
    rows: list[list[int]] = []
    before = 0  # tokens of the batches done
    for first in range(0, num_samples, MAX_BATCH):
        size = min(MAX_BATCH, num_samples - first)

        def batch_progress(
            done: float, tokens: int, first: int = first, size: int = size, before: int = before
        ) -> None:
            if progress is not None:
                progress((first + done * size) / num_samples, before + tokens)

        batch = [Row(tuple(prompt), length, settings, row_seed(seed, i)) for i in range(first, first + size)]
        try:
            made = generate_rows(model, batch, constraint, controls, batch_progress)
        except GenerationInterrupted as stop:
            raise GenerationInterrupted(rows + stop.partial) from None
        rows += made
        before += sum(map(len, made))
        if progress is not None:  # after every batch too: short samples never reach a step that reports
            progress((first + size) / num_samples, before)
    return rows
