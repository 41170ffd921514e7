"""The run's metrics as a CSV beside its checkpoints, and whether it is still training, for the web studio.

`checkpoints/<run>/metrics.csv` holds rows `step,epoch,name,value,time`: `train_loss` at every logging
step, `val_loss` and the other validation figures (accuracy, macro-F1, label error rate) after every validation (and the `dropout` rate, for a run with late dropout), and the
statistics the sample loggers compute of their samples (`samples/...`); a resumed run appends to it. `checkpoints/<run>/status.json` says `training` (with the
process id), `finished` or `stopped`. Both are written by rank zero only, whatever logger the run uses
(W&B gets the same metrics), and only by the process that owns the run folder (run_lock.py): `validate`
or `test` of another run's checkpoint, or of the run's own while it trains, writes nothing there.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Optional

import lightning as L

from studio.io import atomic_write_bytes
from studio.models.late_dropout import DROPOUT_METRIC

METRICS_FILE, STATUS_FILE = "metrics.csv", "status.json"
COLUMNS = ("step", "epoch", "name", "value", "time")
# What the model logs, and the names the file gives them.
TRAIN_KEY = "train/loss"
TRAIN_NAME = "train_loss"


def write_status(folder: Path, state: str) -> None:
    """Record the run's state (`training`, `finished` or `stopped`) and who is training it."""
    record = {"state": state, "pid": os.getpid(), "updated": time.time()}
    atomic_write_bytes(folder / STATUS_FILE, json.dumps(record).encode("utf-8"))


def run_folder(trainer: L.Trainer) -> Optional[Path]:
    """The run's checkpoint folder, to write in: on rank zero of the process that owns the run only.

    None elsewhere, when the run keeps no checkpoints, or when a MetricsFile of the trainer says this
    process does not own the folder (it validates or tests a checkpoint read-only).
    """
    dirpath = getattr(trainer.checkpoint_callback, "dirpath", None)
    owned = all(callback.owner for callback in trainer.callbacks if isinstance(callback, MetricsFile))
    if not trainer.is_global_zero or not dirpath or not owned:
        return None
    folder = Path(dirpath)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def append_metrics(trainer: L.Trainer, values: dict[str, Any]) -> None:
    """Append `values` (name -> number; absent or non-finite ones are left out) at the trainer's step."""
    folder = run_folder(trainer)
    rows = [(name, _number(value)) for name, value in values.items()]
    rows = [(name, value) for name, value in rows if value]
    if folder is None or not rows:
        return
    path = folder / METRICS_FILE
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(COLUMNS)
        for name, value in rows:
            writer.writerow((trainer.global_step, trainer.current_epoch, name, value, f"{time.time():.3f}"))


class MetricsFile(L.Callback):
    """Appends training and validation losses to `metrics.csv` in the checkpoint folder, and keeps `status.json`.

    `owner`: whether this process owns the run folder (holds its lock, or launched the ranks that
    train); when not, nothing is written there, by this callback or by `append_metrics`.
    """

    def __init__(self, owner: bool = True) -> None:
        self.owner = owner
        self._last_train_row = -1

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The run has started (or resumed): say so."""
        folder = run_folder(trainer)
        if folder is not None:
            write_status(folder, "training")

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Every `log_every_n_steps` steps, a row with the training loss."""
        if trainer.global_step % max(trainer.log_every_n_steps, 1) == 0:
            self._train_row(trainer)

    def _train_row(self, trainer: L.Trainer) -> None:
        append_metrics(trainer, {TRAIN_NAME: trainer.callback_metrics.get(TRAIN_KEY)})
        self._last_train_row = trainer.global_step

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The last step gets a row too, so even a short run has a curve to draw."""
        if self._last_train_row != trainer.global_step and TRAIN_KEY in trainer.callback_metrics:
            self._train_row(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """After each validation (not the sanity check), a row per validation figure (and the dropout rate)."""
        if not trainer.sanity_checking:
            metrics = trainer.callback_metrics
            figures = {name: value for name, value in metrics.items() if name.startswith("val_")}
            append_metrics(trainer, {**figures, DROPOUT_METRIC: metrics.get(DROPOUT_METRIC)})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """The run ended as planned."""
        folder = run_folder(trainer)
        if folder is not None:
            write_status(folder, "finished")

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        """The run stopped early (an error, Ctrl-C); it can be resumed."""
        folder = run_folder(trainer)
        if folder is not None:
            write_status(folder, "stopped")


def _number(value: Any) -> str:
    """A loss as text ('' when absent or not finite)."""
    if value is None:
        return ""
    number = float(value)
    return f"{number:.6g}" if math.isfinite(number) else ""
