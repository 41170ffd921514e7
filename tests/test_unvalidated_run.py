"""A run that stops before its first validation says so plainly, instead of Lightning's misleading hint."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY_TEXT_FIT, run_studio_here

NOTE = "before its first validation, so there is no best.ckpt"


def test_a_run_stopped_before_validation_says_where_its_model_is(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    fit = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--trainer.logger", "false"]
    short = run_studio_here([*fit, "--run_name", "short", "--trainer.max_steps", "2"], tmp_path, studio_env)
    assert short.returncode == 0, short.stderr[-3000:]
    assert f"ended at step 2, {NOTE}" in short.stderr and "last.ckpt holds the model" in short.stderr
    assert "HINT" not in short.stderr  # Lightning's question whether the model logs val_loss at all
    assert (tmp_path / "checkpoints" / "short" / "last.ckpt").is_file()

    validated = run_studio_here([*fit, "--run_name", "validated", "--trainer.max_epochs", "1"], tmp_path, studio_env)
    assert validated.returncode == 0, validated.stderr[-3000:]
    assert NOTE not in validated.stderr
    assert (tmp_path / "checkpoints" / "validated" / "best.ckpt").is_file()
