"""End to end through the real `studio` command: fit, sample, validate, resume, W&B, bad inputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, run_studio_here
from wandb_records import summary

pytestmark = pytest.mark.slow


def test_fit_writes_checkpoints_and_config(trained_text: dict) -> None:
    run = trained_text["run"]
    assert {"last.ckpt", "best.ckpt", "config.yaml"} <= {p.name for p in run.iterdir()}
    checkpoint = torch.load(run / "last.ckpt", weights_only=True)  # plain data only: safe to open
    assert checkpoint["studio"]["task"] == "text"
    assert checkpoint["studio"]["codec"]["kind"] == "text"
    assert checkpoint["hyper_parameters"]["vocab_size"] > 30  # linked from the data, not configured
    assert "vocab_size" in (run / "config.yaml").read_text()


def test_wandb_offline_run_holds_config_metrics_and_samples(trained_text: dict) -> None:
    files = list((trained_text["work"] / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    logged = summary(files[0])
    assert logged["name"] == "tiny"
    assert {"hidden_size", "vocab_size", "lr", "batch_size", "seq_len"} <= logged["config"]
    assert {
        "train/loss",
        "train/bpt",
        "val_loss",
        "val_bpt",
        "lr/weights",
        "lr/biases",
        "train/tokens_per_s",
    } <= logged["history"]
    assert any(key.startswith("samples/text") for key in logged["history"])  # the generated-text table
    assert {"samples/distinct_1", "samples/distinct_2", "samples/mean_word_length"} <= logged["history"]


def _sample(trained_text: dict, *args: str) -> tuple[list[str], str]:
    result = run_studio_here(
        ["sample", "--ckpt", str(trained_text["run"] / "last.ckpt"), *args], trained_text["work"], trained_text["env"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    texts = re.split(r"----- sample \d+ -----\n", result.stdout)[1:]
    return texts, result.stderr


def test_sample_is_batched_deterministic_and_written(trained_text: dict) -> None:
    args = ["--prompt", "The ", "--length", "60", "--temperature", "0.8", "--top_k", "40", "--num_samples", "3"]
    first, log = _sample(trained_text, *args, "--seed", "1")
    again, _ = _sample(trained_text, *args, "--seed", "1")
    other, _ = _sample(trained_text, *args, "--seed", "2")
    assert len(first) == 3 and first == again and first != other
    assert all(text.startswith("The ") for text in first)
    folder = Path(trained_text["work"]) / re.search(r"to (samples/\S+)", log).group(1)
    written = sorted(folder.glob("sample_*.txt"))
    assert [p.read_text() for p in written] == [t.rstrip("\n") for t in first] or len(written) == 3
    assert (folder / "settings.json").exists()


def test_validate_prints_val_loss_in_nats(trained_text: dict) -> None:
    result = run_studio_here(
        [
            "validate",
            "--config",
            str(trained_text["run"] / "config.yaml"),
            "--trainer.logger",
            "false",
            "--ckpt_path",
            str(trained_text["run"] / "best.ckpt"),
        ],
        trained_text["work"],
        trained_text["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    value = float(re.search(r"val_loss\s*│?\s*([0-9.]+)", result.stdout).group(1))
    assert 0.5 < value < 4.5  # nats per character: learned something, far from ln(vocab) ~ 4.2 at best


def test_resume_continues_exactly(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    """10 steps + resume to 20 gives bit-identical weights to 20 uninterrupted steps (optimizer, data, state)."""
    base = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--trainer.logger", "false"]
    for args in (
        ["--run_name", "full", "--trainer.max_steps", "20"],
        ["--run_name", "cut", "--trainer.max_steps", "10"],
        ["--run_name", "cut", "--trainer.max_steps", "20", "--ckpt_path", "last"],
    ):
        result = run_studio_here([*base, *args], tmp_path, studio_env)
        assert result.returncode == 0, result.stderr[-3000:]
    full = torch.load(tmp_path / "checkpoints/full/last.ckpt", weights_only=True)
    cut = torch.load(tmp_path / "checkpoints/cut/last.ckpt", weights_only=True)
    assert cut["global_step"] == full["global_step"] == 20
    for key, value in full["state_dict"].items():
        assert torch.equal(value, cut["state_dict"][key]), key


def test_logger_false_and_print_config(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    result = run_studio_here(
        [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--print_config"], tmp_path, studio_env
    )
    assert result.returncode == 0 and "class_path: studio.models.RecurrentLanguageModel" in result.stdout
    result = run_studio_here(
        [
            *TINY_TEXT_FIT,
            "--data.init_args.path",
            str(small_corpus),
            "--trainer.logger",
            "false",
            "--trainer.max_steps",
            "3",
            "--run_name",
            "quiet",
        ],
        tmp_path,
        studio_env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "checkpoints/quiet/last.ckpt").exists() and not (tmp_path / "wandb").exists()
