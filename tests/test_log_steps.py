"""Callbacks log their own figures only on the steps the loggers record (each `self.log` costs time)."""

from __future__ import annotations

import csv
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger

from studio.training.nonfinite import NonFiniteGuard
from studio.training.throughput import TokenThroughput


class _Tiny(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        return self.layer(batch[0].float()).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _fit(tmp_path: Path, logger: object) -> L.Trainer:
    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(12, 5, 3)), batch_size=2)
    trainer = L.Trainer(
        max_steps=6,
        log_every_n_steps=2,
        logger=logger,
        callbacks=[NonFiniteGuard(), TokenThroughput()],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(_Tiny(), batches)
    return trainer


def test_figures_reach_the_logger_on_its_steps_only(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, CSVLogger(tmp_path))
    with open(Path(trainer.logger.log_dir) / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    norms = [int(r["step"]) for r in rows if r.get("train/grad_norm")]
    rates = [float(r["train/tokens_per_s"]) for r in rows if r.get("train/tokens_per_s")]
    assert norms == [1, 3, 5]  # every second step, as log_every_n_steps says
    assert len(rates) == 3 and all(rate > 0 for rate in rates)
    assert all(float(r["train/skipped_steps"]) == 0 for r in rows if r.get("train/skipped_steps"))


def test_without_a_logger_nothing_is_logged(tmp_path: Path) -> None:
    trainer = _fit(tmp_path, False)
    assert "train/grad_norm" not in trainer.callback_metrics
    assert "train/tokens_per_s" not in trainer.callback_metrics
