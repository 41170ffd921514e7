"""What `studio evaluate` asks of every task's evaluator, and what an evaluator gives back."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from studio.errors import StudioError
from studio.generation.decoding import Progress


@contextlib.contextmanager
def no_progress(unit: str) -> Iterator[Optional[Progress]]:
    """A progress line that shows nothing (for callers without a terminal)."""
    yield None


@dataclass(frozen=True)
class EvaluationRequest:
    """The data to score, the samples to generate and compare, and how (the `studio evaluate` flags)."""

    data: list[str] = field(default_factory=list)
    samples: int = 0
    against: list[str] = field(default_factory=list)
    seconds: float = 10.0
    length: int = 500
    rounds: int = 1
    temperature: float = 1.0
    beam_width: int = 1
    seed: int = 0
    progress: Callable[[str], Any] = no_progress
    # A run's own held-out split (`--split`): a function giving its labelled examples, and its name.
    held_out: Optional[Callable[[], Iterator[Any]]] = None
    held_out_name: str = ""


@dataclass
class Evaluation:
    """What an evaluator measured: figures (evaluation.json), the printed tables, and pictures it drew."""

    result: dict[str, Any]
    text: str
    images: list[Path] = field(default_factory=list)


def evaluator(path: str) -> Callable[..., Evaluation]:
    """The evaluation function a task record names as `module:function`."""
    module, _, name = path.partition(":")
    function = getattr(importlib.import_module(module), name, None)
    if not callable(function):
        raise StudioError(f"the task's evaluator {path} does not exist: this Studio installation is damaged")
    return function  # type: ignore[no-any-return]


def check_scored_on_data(request: EvaluationRequest, task: str, what: str, split: bool = True) -> None:
    """One-line errors for flags that only language models take, and for no data: a `task` is scored on `what`."""
    if request.samples:
        raise StudioError(f"--samples: a {task} checkpoint generates nothing to compare; pass --data with {what}")
    if request.rounds != 1:
        raise StudioError(f"--rounds {request.rounds}: rounds are for text checkpoints, not {task}")
    if request.held_out is not None and not split:
        raise StudioError(f"--split: a {task} checkpoint is scored on files; pass --data with {what}")
    if not request.data and request.held_out is None:
        raise StudioError(
            f"--data: a {task} checkpoint is scored on {what}; pass them with --data"
            + (", or --split" if split else "")
        )
