"""Non-finite gradients: the step is skipped and counted; a run that keeps diverging stops cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, run_studio_here


@pytest.mark.slow
def test_divergence_skips_steps_then_stops_with_a_checkpoint(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    # An absurd learning rate with no clipping blows the weights up after the first step.
    args = [
        *TINY_TEXT_FIT,
        "--data.init_args.path",
        str(small_corpus),
        "--trainer.logger",
        "false",
        "--run_name",
        "boom",
        "--model.init_args.lr",
        "1e30",
        "--model.init_args.cell",
        "rnn_relu",
        "--trainer.gradient_clip_val",
        "null",
        "--trainer.max_steps",
        "200",
        "--nonfinite.max_consecutive",
        "3",
    ]
    result = run_studio_here(args, tmp_path, studio_env)
    assert result.returncode == 2, result.stderr[-3000:]
    last_line = result.stderr.strip().splitlines()[-1]
    assert "training diverged: 3 steps in a row had NaN/inf gradients" in last_line and "Traceback" not in result.stderr
    checkpoint = torch.load(tmp_path / "checkpoints/boom/last.ckpt", weights_only=True)
    assert all(torch.isfinite(v).all() for v in checkpoint["state_dict"].values())  # saved before the NaNs
    guard = next(v for k, v in checkpoint["callbacks"].items() if "NonFiniteGuard" in k)
    assert guard["skipped"] == 3
