"""Text from a language model: continue a prompt, carrying the state, all samples in one batch."""

from __future__ import annotations

from typing import Optional

import torch

from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.generation.decoding import GenerationInterrupted, Progress
from studio.generation.rows import Row, row_seed
from studio.generation.sampling import SamplingSettings, generate

# A text starts at the beginning of a line unless told otherwise.
DEFAULT_PROMPT = "\n"


def text_prompt(codec: TextCodec, prompt: Optional[str]) -> tuple[str, list[int]]:
    """The prompt a text starts with (default: a newline) and its ids; a one-line error for unknown characters."""
    prompt = DEFAULT_PROMPT if prompt is None or prompt == "" else prompt
    unknown = codec.unknown_characters(prompt)
    if unknown:
        shown = "".join(unknown)
        raise StudioError(
            f"--prompt has characters the model never saw ({shown!r}): remove them or train on a corpus that has them"
        )
    return prompt, codec.encode(prompt)


def text_rows(
    codec: TextCodec, prompt: Optional[str], length: int, num_samples: int, settings: SamplingSettings, seed: int
) -> tuple[str, list[Row]]:
    """The rows of a text request (sample i on stream `row_seed(seed, i)`, as `generate` draws them), and its prompt."""
    prompt, ids = text_prompt(codec, prompt)
    return prompt, [Row(tuple(ids), length, settings, row_seed(seed, i)) for i in range(num_samples)]


def sample_text(
    model: torch.nn.Module,
    codec: TextCodec,
    prompt: Optional[str],
    length: int,
    num_samples: int,
    settings: SamplingSettings,
    seed: int,
    progress: Optional[Progress] = None,
) -> list[str]:
    """Continue `prompt` (default: a newline) by `length` tokens, `num_samples` times; each text starts with the prompt."""
    prompt, ids = text_prompt(codec, prompt)
    try:
        rows = generate(model, ids, length, num_samples, settings, seed, progress=progress)
    except GenerationInterrupted as stop:
        raise GenerationInterrupted([prompt + codec.decode(row) for row in stop.partial]) from None
    return [prompt + codec.decode(row) for row in rows]
