"""One-line errors for network settings out of range, raised before anything is allocated."""

from __future__ import annotations

from typing import Any

from studio.errors import StudioError

# The hyper-parameters of every model's optimizer and schedule: stored in checkpoints, never shaping a network.
OPTIMIZER_SETTINGS = frozenset({"lr", "weight_decay", "betas", "scheduler", "warmup_steps", "min_lr_ratio"})


def check_whole(name: str, value: Any, minimum: int = 1, hint: str = "") -> None:
    """StudioError unless `value` is a whole number >= `minimum` (`hint` ends the message, e.g. " (0: none)")."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise StudioError(f"--model.init_args.{name} {value!r} must be a whole number >= {minimum}{hint}")


def check_recurrent_settings(hidden_size: int, num_layers: int, dropout: float) -> None:
    """One-line errors for recurrent-stack settings out of range."""
    check_whole("hidden_size", hidden_size)
    check_whole("num_layers", num_layers)
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise StudioError(f"--model.init_args.dropout {dropout!r} must be in [0, 1), e.g. 0.1")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """StudioError unless `value` is one of `choices`."""
    if value not in choices:
        raise StudioError(f"--model.init_args.{name} {value!r} is unknown: choose one of {', '.join(choices)}")
