"""Text from a language model: continue a prompt, carrying the state, all samples in one batch."""

from __future__ import annotations

from typing import Optional

import torch

from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.generation.decoding import GenerationInterrupted, Progress
from studio.generation.sampling import SamplingSettings, generate

DEFAULT_LENGTH = 500


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
    prompt = "\n" if prompt is None or prompt == "" else prompt
    unknown = codec.unknown_characters(prompt)
    if unknown:
        shown = "".join(unknown)
        raise StudioError(
            f"--prompt has characters the model never saw ({shown!r}): remove them or train on a corpus that has them"
        )
    try:
        rows = generate(model, codec.encode(prompt), length, num_samples, settings, seed, progress=progress)
    except GenerationInterrupted as stop:
        raise GenerationInterrupted([prompt + codec.decode(row) for row in stop.partial]) from None
    return [prompt + codec.decode(row) for row in rows]
