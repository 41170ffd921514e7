"""A run stopped by its time budget (`--trainer.max_time`) lays its learning-rate decay over that time."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, run_studio_here

from studio.models.schedules import lr_multiplier


def test_the_decay_follows_whichever_limit_binds() -> None:
    spent = [0.0]
    timed = lr_multiplier("cosine", 10, 10**9, 0.1, lambda: spent[0])
    assert timed(0) == pytest.approx(0.1) and timed(9) == pytest.approx(1.0)  # warm-up is in steps
    assert timed(500) == pytest.approx(1.0)  # no time spent: no decay, though 10**9 steps are far
    spent[0] = 0.5
    assert timed(500) == pytest.approx(0.1 + 0.9 * 0.5)  # half the budget: half the cosine
    spent[0] = 1.0
    assert timed(500) == pytest.approx(0.1)  # the budget spent: the minimum
    # A run whose steps end first decays by steps, whatever the clock says.
    stepped = lr_multiplier("linear", 0, 100, 0.0, lambda: 0.1)
    assert stepped(50) == pytest.approx(0.5) and stepped(100) == pytest.approx(0.0)


@pytest.mark.slow
def test_a_timed_run_ends_at_the_minimum_rate_and_resume_continues_the_clock(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    fit = [
        *TINY_TEXT_FIT,
        *["--data.init_args.path", str(small_corpus), "--trainer.logger", "false", "--run_name", "timed"],
        *["--model.init_args.scheduler", "cosine", "--model.init_args.lr", "0.01"],
        *["--model.init_args.min_lr_ratio", "0.1", "--trainer.max_epochs", "-1"],
    ]
    first = run_studio_here([*fit, "--trainer.max_time", "00:00:00:03"], tmp_path, studio_env)
    assert first.returncode == 0, first.stderr[-3000:]
    last = tmp_path / "checkpoints" / "timed" / "last.ckpt"
    state = torch.load(last, weights_only=True)
    steps = state["global_step"]
    assert steps > 20  # the time budget, not a step count, stopped it
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] <= 0.01 * (0.1 + 0.05)
    timer = next(v for k, v in state["callbacks"].items() if k.startswith("Timer"))
    assert timer["time_elapsed"]["train"] >= 3.0

    resumed = run_studio_here([*fit, "--trainer.max_time", "00:00:00:06", "--ckpt_path", "last"], tmp_path, studio_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state = torch.load(last, weights_only=True)
    timer = next(v for k, v in state["callbacks"].items() if k.startswith("Timer"))
    # The clock went on from 3 s (not from zero), and the rate again ended at its minimum.
    assert 6.0 <= timer["time_elapsed"]["train"] < 9.0
    assert state["global_step"] > steps
    assert state["optimizer_states"][0]["param_groups"][0]["lr"] <= 0.01 * (0.1 + 0.05)
