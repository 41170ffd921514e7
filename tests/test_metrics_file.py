"""Every `studio fit` keeps `metrics.csv` and `status.json` beside its checkpoints (the web studio draws them)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import TINY_TEXT_FIT, run_studio_here


@pytest.mark.slow
def test_a_run_writes_its_losses_and_says_when_it_finished(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    fit = [
        *TINY_TEXT_FIT,
        *["--data.init_args.path", str(small_corpus), "--trainer.logger", "false", "--run_name", "m"],
        *["--trainer.callbacks+", "studio.training.text_samples.TextSampleLogger"],
        *["--trainer.callbacks.every_n_steps", "3", "--trainer.callbacks.length", "40"],
        *["--trainer.log_every_n_steps", "2", "--trainer.val_check_interval", "3", "--trainer.max_steps", "7"],
    ]
    result = run_studio_here(fit, tmp_path, studio_env)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = tmp_path / "checkpoints" / "m"
    rows = list(csv.DictReader((folder / "metrics.csv").read_text(encoding="utf-8").splitlines()))
    train = [(int(r["step"]), float(r["value"])) for r in rows if r["name"] == "train_loss"]
    val = [(int(r["step"]), float(r["value"])) for r in rows if r["name"] == "val_loss"]
    assert [step for step, _ in train] == [2, 4, 6, 7]  # the last step too
    assert [step for step, _ in val] == [3, 6]
    assert all(0 < loss < 10 for _, loss in train + val)
    distinct = [(int(r["step"]), float(r["value"])) for r in rows if r["name"] == "samples/distinct_1"]
    assert [step for step, _ in distinct] == [3, 6] and all(0 < share <= 1 for _, share in distinct)
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"

    resumed = run_studio_here([*fit[:-1], "10", "--ckpt_path", "last"], tmp_path, studio_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    text = (folder / "metrics.csv").read_text(encoding="utf-8")
    steps = [int(r["step"]) for r in csv.DictReader(text.splitlines()) if r["name"] == "train_loss"]
    assert steps == [2, 4, 6, 7, 8, 10]  # the resumed run appended to the same file
