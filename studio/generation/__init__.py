"""Generation without a command line: load a checkpoint once, then generate text or MIDI, tag, or classify.

The names below are imported when first used, so that a light part of the package (the task records,
the request settings) can be imported without loading PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.generation.api import Generator
    from studio.generation.beam_search import BeamSettings
    from studio.generation.decoding import GenerationInterrupted
    from studio.generation.midi import Piece
    from studio.generation.sampling import SamplingSettings

_WHERE = {
    "Generator": "studio.generation.api",
    "BeamSettings": "studio.generation.beam_search",
    "GenerationInterrupted": "studio.generation.decoding",
    "Piece": "studio.generation.midi",
    "SamplingSettings": "studio.generation.sampling",
}

__all__ = ["BeamSettings", "GenerationInterrupted", "Generator", "Piece", "SamplingSettings"]


def __getattr__(name: str) -> Any:
    """Import `name` from its module the first time it is asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module 'studio.generation' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
