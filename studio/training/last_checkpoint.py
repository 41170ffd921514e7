"""Keeps `last.ckpt` fresh during long runs, saves it when the run is stopped by SIGTERM or Ctrl-C, and
at the end of a run, so `last.ckpt` holds the last step even when `max_steps` or `max_time` ends a run
after the last validation (Lightning's own end-of-run save is skipped once any `last.ckpt` exists).

A crash then costs at most one interval of training: `studio fit ... --ckpt_path last` resumes.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Optional

import lightning as L
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info

from studio.errors import StudioError

# With more than one process, the time decision is rank zero's clock sent to every rank: a collective
# (and on GPUs a device sync), so the ranks ask for it only every this many steps.
TIME_CHECK_STEPS = 20


class RefreshLastCheckpoint(L.Callback):
    """Writes `<checkpoint dir>/last.ckpt` every `every_n_steps` steps and/or `every_minutes` minutes (0: off)."""

    def __init__(self, every_n_steps: int = 0, every_minutes: float = 10.0) -> None:
        if isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps < 0:
            raise StudioError(f"--last_checkpoint.every_n_steps {every_n_steps!r} must be a whole number >= 0 (0: off)")
        if (
            isinstance(every_minutes, bool)
            or not isinstance(every_minutes, (int, float))
            or not 0 <= every_minutes < math.inf
        ):
            raise StudioError(
                f"--last_checkpoint.every_minutes {every_minutes!r} must be a finite number >= 0 (0: off)"
            )
        self.every_n_steps = every_n_steps
        self.every_minutes = every_minutes
        self._last_save = time.monotonic()
        self._previous_sigint: Any = None

    def _path(self, trainer: L.Trainer) -> Optional[Path]:
        callback = trainer.checkpoint_callback
        dirpath = getattr(callback, "dirpath", None)
        return Path(dirpath) / "last.ckpt" if dirpath else None

    def _save(self, trainer: L.Trainer) -> None:
        path = self._path(trainer)
        if path is not None:
            trainer.save_checkpoint(path, weights_only=False)  # every rank calls it; only rank zero writes
            self._last_save = time.monotonic()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Turn the first Ctrl-C into a graceful stop at the next batch boundary (a second one aborts)."""
        self._last_save = time.monotonic()
        if threading.current_thread() is threading.main_thread():
            self._previous_sigint = signal.getsignal(signal.SIGINT)

            def graceful(signum: int, frame: Any) -> None:
                rank_zero_info("\nCtrl-C: saving last.ckpt at the end of this step (press again to abort)")
                signal.signal(signal.SIGINT, signal.default_int_handler)
                trainer._signal_connector.received_sigterm = True

            signal.signal(signal.SIGINT, graceful)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The run ended as planned: `last.ckpt` gets the final step unless it has it already."""
        saved_at = getattr(trainer.checkpoint_callback, "_last_global_step_saved", None)
        if trainer.global_step > 0 and saved_at != trainer.global_step:
            self._save(trainer)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Give Ctrl-C back."""
        self._restore_sigint()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Save when a step or time interval has passed (the time decision is rank zero's, for all ranks)."""
        due = self.every_n_steps > 0 and trainer.global_step % self.every_n_steps == 0
        asks = trainer.world_size == 1 or trainer.global_step % TIME_CHECK_STEPS == 0  # the same on every rank
        if self.every_minutes > 0 and not due and asks:
            due = trainer.strategy.broadcast(time.monotonic() - self._last_save >= 60 * self.every_minutes)
        if due:
            self._save(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """Pre-emption (SIGTERM) or Ctrl-C: the loops stopped at a batch boundary, so the state is whole."""
        if isinstance(exception, SIGTERMException) and trainer.state.fn == "fit":
            self._save(trainer)
            rank_zero_info(f"saved {self._path(trainer)} before stopping; resume with --ckpt_path last")
        self._restore_sigint()

    def _restore_sigint(self) -> None:
        if self._previous_sigint is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None
