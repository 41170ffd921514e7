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
from studio.generation.requests import SEED_RANGE, check_request, setting

# More rounds than this measure nothing new: each statistic's mean and spread settle far sooner.
MAX_ROUNDS = 1000


@contextlib.contextmanager
def no_progress(unit: str) -> Iterator[Optional[Progress]]:
    """A progress line that shows nothing (for callers without a terminal)."""
    yield None


@dataclass(frozen=True, kw_only=True)
class EvaluationRequest:
    """The data to score, the samples to generate and compare, and how (the `studio evaluate` flags, range-checked)."""

    data: list[str] = field(default_factory=list)
    samples: int = setting(0, "generate this many samples to compare with --against", at_least=0)
    against: list[str] = field(default_factory=list)
    seconds: float = setting(10.0, "MIDI: length of each generated piece", above=0, at_most=3600)
    length: int = setting(500, "text: tokens per generated sample", at_least=1)
    rounds: int = setting(
        1,
        "text: rounds of --samples texts, each statistic averaged over them",
        at_least=1,
        at_most=MAX_ROUNDS,
        hint="a figure's spread settles within a few dozen rounds",
    )
    temperature: float = setting(1.0, "sampling temperature of --samples", above=0)
    beam_width: int = setting(1, "speech taggers: CTC prefix beam width (1: greedy)", at_least=1)
    seed: int = setting(0, "the same seed gives the same samples", at_least=SEED_RANGE[0], at_most=SEED_RANGE[1])
    progress: Callable[[str], Any] = no_progress
    # A run's own held-out split (`--split`): a function giving its labelled examples, and its name.
    held_out: Optional[Callable[[], Iterator[Any]]] = None
    held_out_name: str = ""

    def __post_init__(self) -> None:
        check_request(self)


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
