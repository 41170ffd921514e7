"""Progress as plain lines on stdout when it is not a terminal: a log file or `docker logs` shows the run as it goes.

Lightning's progress bar redraws one line in place; written to a file it shows nothing until its last
frame. When stdout is not a terminal, `studio fit`, `validate` and `test` turn the bar off and add
`PlainProgress` instead, which prints a line such as

    step 120/2000 (6.0%) · epoch 1 · train/loss 2.464 · 14.2 steps/s · 0:02:11 left

at most every few seconds, a line with the validation metrics after each validation, and one when
training ends.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Optional

import lightning as L
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ProgressBar, Timer
from lightning.pytorch.trainer.states import TrainerFn

from studio.errors import StudioError


def plain_progress_wanted(trainer_config: Mapping[str, Any], stdout: Any = None) -> bool:
    """Whether to print `PlainProgress` lines instead of Lightning's bar for a Trainer built from `trainer_config`.

    Only when stdout (`sys.stdout` unless given) is not a terminal and the settings leave the bar alone:
    `enable_progress_bar` unset (false prints nothing, true keeps Lightning's bar), no progress bar
    among the callbacks, and not `barebones`.
    """
    stdout = sys.stdout if stdout is None else stdout
    callbacks = trainer_config.get("callbacks") or []
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    return (
        trainer_config.get("enable_progress_bar") is None
        and not trainer_config.get("barebones")
        and not any(isinstance(callback, ProgressBar) for callback in callbacks)
        and not (hasattr(stdout, "isatty") and stdout.isatty())
    )


EVERY_VARIABLE = "STUDIO_PROGRESS_EVERY"


def progress_every(default: float = 5.0) -> float:
    """Seconds between progress lines: `$STUDIO_PROGRESS_EVERY` when set, else `default`."""
    value = os.environ.get(EVERY_VARIABLE, "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise StudioError(f"{EVERY_VARIABLE}={value!r} must be a number of seconds > 0, e.g. 30 (or unset it)")
    return seconds


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _metrics(metrics: Mapping[str, Any]) -> str:
    return " · ".join(f"{name} {float(value):.4g}" for name, value in metrics.items())


def _validation(name: str) -> bool:
    return name.startswith(("val_", "val/"))


class PlainProgress(L.Callback):
    """Progress lines on stdout, flushed, from rank zero: at most one every `every` seconds, and after each validation.

    While training: the step (of the total, when `max_steps` or the epochs bound it), the epoch, the
    metrics the model shows in the progress bar, the steps per second of wall time since the first
    step (validations included, so the time left counts them too) and the time left (capped by
    `max_time`). Validation and testing on their own print the batches done the same way. `clock`
    gives the time in seconds (`time.monotonic`; tests pass their own).
    """

    def __init__(self, every: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self._started = 0.0  # when fitting began
        self._first: Optional[tuple[float, int]] = None  # (time, step) once the first step ended
        self._printed = 0.0  # when the last progress line was printed
        self._total: Optional[int] = None  # the steps training will take, when known
        self._evaluation = (0.0, 0)  # (time, batches) since the validation or test began

    def _print(self, line: str) -> None:
        print(line, flush=True)

    def _due(self, since: float) -> Optional[float]:
        """The time now, if a progress line is due (`every` seconds after `since` and the last line); else None."""
        now = self.clock()
        return now if now - max(since, self._printed) >= self.every else None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start the clock of the whole run."""
        self._started = self.clock()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Find the total steps: `max_steps`, or the epochs' batches when finite."""
        self._first = None
        try:
            total = trainer.estimated_stepping_batches
        except MisconfigurationException:  # the accumulation changes from epoch to epoch
            total = math.inf
        self._total = int(total) if 0 < total < math.inf else None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Print a progress line when one is due (the first `every` seconds after the first step)."""
        if not trainer.is_global_zero:
            return
        step = trainer.global_step
        if self._first is None:
            self._first = (self.clock(), step)
            return
        now = self._due(self._first[0])
        if now is None:
            return
        self._printed = now
        rate = (step - self._first[1]) / max(now - self._first[0], 1e-9)
        parts = [f"step {step}"]
        if self._total:
            parts[0] += f"/{self._total} ({step / self._total:.1%})"
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs is not None and trainer.max_epochs > 0 else ""
        parts.append(f"epoch {trainer.current_epoch + 1}{epochs}")
        shown = {name: value for name, value in trainer.progress_bar_metrics.items() if not _validation(name)}
        if shown:
            parts.append(_metrics(shown))
        parts.append(f"{rate:,.1f} steps/s" if rate >= 1 else f"{rate:.3f} steps/s")
        if self._total and rate > 0:
            left = max(self._total - step, 0) / rate
            timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)  # type: ignore[attr-defined]
            remaining = timer.time_remaining() if timer is not None else None
            parts.append(f"{_clock(left if remaining is None else min(left, remaining))} left")
        self._print(" · ".join(parts))

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start counting validation batches."""
        self._evaluation = (self.clock(), 0)

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Start counting test batches."""
        self._evaluation = (self.clock(), 0)

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """A long validation prints its batches too."""
        if not trainer.sanity_checking:
            self._evaluation_batch(trainer, "validation", trainer.num_val_batches)

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """A long test prints its batches."""
        self._evaluation_batch(trainer, "test", trainer.num_test_batches)

    def _evaluation_batch(self, trainer: L.Trainer, name: str, totals: list[int | float]) -> None:
        started, done = self._evaluation[0], self._evaluation[1] + 1
        self._evaluation = (started, done)
        if not trainer.is_global_zero:
            return
        now = self._due(started)
        if now is None:
            return
        self._printed = now
        rate = done / max(now - started, 1e-9)
        total = sum(totals)
        line = f"{name} batch {done}"
        if 0 < total < math.inf:
            line += f"/{int(total)} ({done / total:.1%}) · {rate:,.1f} batches/s · {_clock((total - done) / rate)} left"
        self._print(line)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """While fitting, one line with the validation metrics."""
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING or not trainer.is_global_zero:
            return
        metrics = {name: value for name, value in trainer.callback_metrics.items() if _validation(name)}
        if metrics:
            self._print(f"validation at step {trainer.global_step}: {_metrics(metrics)}")

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The step training ended at, and the time the run took."""
        if trainer.is_global_zero:
            self._print(f"finished at step {trainer.global_step} in {_clock(self.clock() - self._started)}")
