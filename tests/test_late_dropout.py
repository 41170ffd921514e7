"""Dropout that switches on once validation shows overfitting (`dropout_from="overfitting"`)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from conftest import late_dropout_fit, run_studio_here

from studio.errors import StudioError
from studio.models import RecurrentLanguageModel
from studio.models.late_dropout import OverfittingWatch


def rates(model: RecurrentLanguageModel) -> tuple[float, float]:
    """The dropout on inputs and outputs, and between the recurrent layers."""
    return model.dropout.p, model.rnn.rnn.dropout


def test_the_watch_switches_at_the_first_loss_above_the_best_and_stays_switched() -> None:
    watch = OverfittingWatch()
    assert [watch.observe(loss) for loss in (3.0, 2.0, 2.0, 1.5)] == [False] * 4  # falling or level: no switch
    assert watch.observe(1.6) is True and watch.seen and watch.best == 1.5
    assert watch.observe(1.0) is False and watch.seen  # a later improvement does not switch it back
    again = OverfittingWatch()
    again.load_state_dict(watch.state_dict())
    assert again == watch


def test_overfitting_mode_builds_without_dropout_and_a_checkpoint_restores_the_switch() -> None:
    model = RecurrentLanguageModel(vocab_size=5, num_layers=2, dropout=0.3, dropout_from="overfitting")
    assert rates(model) == (0.0, 0.0)
    assert rates(RecurrentLanguageModel(vocab_size=5, num_layers=2, dropout=0.3)) == (0.3, 0.3)
    watched = OverfittingWatch(best=1.2, seen=True)
    model.on_load_checkpoint({"overfitting_watch": watched.state_dict()})
    assert rates(model) == (0.3, 0.3)
    saved: dict = {}
    model.on_save_checkpoint(saved)
    assert saved["overfitting_watch"] == watched.state_dict()


def test_overfitting_mode_needs_a_rate_and_a_known_name() -> None:
    with pytest.raises(StudioError, match="dropout_from overfitting needs a rate"):
        RecurrentLanguageModel(vocab_size=5, dropout_from="overfitting")
    with pytest.raises(StudioError, match="dropout_from 'later' is unknown"):
        RecurrentLanguageModel(vocab_size=5, dropout=0.1, dropout_from="later")


@pytest.mark.slow
def test_a_run_whose_validation_loss_turns_up_trains_on_with_dropout(tmp_path: Path, studio_env: dict) -> None:
    result = run_studio_here([*late_dropout_fit(tmp_path), "--run_name", "drift"], tmp_path, studio_env)
    assert result.returncode == 0, result.stderr[-3000:]
    last = tmp_path / "checkpoints" / "drift" / "last.ckpt"
    watch = torch.load(last, weights_only=True)["overfitting_watch"]
    assert watch["seen"] is True and watch["best"] < 10
    resumed = RecurrentLanguageModel.load_from_checkpoint(last, weights_only=True)
    assert rates(resumed) == (0.25, 0.25)  # a resumed run goes on with dropout
    # The run's metrics file (the web page's chart) has the rate after each validation: off, then on.
    with open(last.parent / "metrics.csv", encoding="utf-8") as handle:
        logged = [float(row["value"]) for row in csv.DictReader(handle) if row["name"] == "dropout"]
    assert logged[0] == 0.0 and logged[-1] == 0.25 and logged == sorted(logged)
