"""The settings every sampled generation shares (text and MIDI): how many, how wild, and the seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from studio.generation.requests import SEED_RANGE, check_request, setting

if TYPE_CHECKING:
    from studio.generation.filtering import SamplingSettings


@dataclass(frozen=True, kw_only=True)
class SampledRequest:
    """Samples drawn together in one batch with temperature, top-k and top-p, from one seed."""

    num_samples: int = setting(1, "samples generated together in one batch", at_least=1)
    temperature: float = setting(
        1.0, "> 0; lower is safer, higher is wilder", above=0, hint="try 0.8 for safer text, 1.2 for wilder"
    )
    top_k: int = setting(0, "keep only the k likeliest tokens (0: off)", at_least=0, hint="0 turns it off")
    top_p: float = setting(
        1.0, "nucleus sampling mass in (0, 1] (1: off)", above=0, at_most=1, hint="1 turns nucleus sampling off"
    )
    seed: int = setting(
        0, "the same seed gives the same samples", at_least=SEED_RANGE[0], at_most=SEED_RANGE[1], hint="e.g. 1"
    )

    def __post_init__(self) -> None:
        check_request(self)

    @property
    def sampling(self) -> SamplingSettings:
        """Temperature, top-k and top-p as the sampler takes them."""
        from studio.generation.filtering import SamplingSettings

        return SamplingSettings(self.temperature, self.top_k, self.top_p)
