"""Distributed training on the CPU (DDP over gloo, two processes) through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_TEXT_FIT, late_dropout_fit, run_studio, tiny_tagger_fit

pytestmark = pytest.mark.slow

DDP = ["--trainer.devices", "2", "--trainer.strategy", "ddp"]


def _probe(folder: Path) -> list[str]:
    return ["--trainer.callbacks+=rank_probe.RankWeightsProbe", f"--trainer.callbacks.dirpath={folder}"]


def _digests(folder: Path) -> list[str]:
    return sorted(p.read_text() for p in folder.glob("rank*.sha256"))


def test_text_ddp_trains_identical_ranks_and_resumes(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    env = dict(studio_env, PYTHONPATH=f"{ROOT / 'tests'}")
    base = [*TINY_TEXT_FIT, *DDP, "--data.init_args.path", str(small_corpus), "--run_name", "ddp"]
    first = run_studio([*base, "--trainer.max_steps", "6", *_probe(tmp_path / "a")], tmp_path, env)
    assert first.returncode == 0, first.stderr[-3000:]
    digests = _digests(tmp_path / "a")
    assert len(digests) == 2 and digests[0] == digests[1]  # both ranks finished with the same weights
    run = tmp_path / "checkpoints" / "ddp"
    assert sorted(p.name for p in run.glob("*.ckpt")) == ["last.ckpt"]  # written once, by rank zero
    assert len(list((tmp_path / "wandb").glob("offline-run-*"))) == 1  # one W&B run, not one per rank

    resumed = run_studio(
        [*base, "--trainer.max_steps", "12", "--ckpt_path", "last", *_probe(tmp_path / "b")], tmp_path, env
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    digests = _digests(tmp_path / "b")
    assert len(digests) == 2 and digests[0] == digests[1] and digests[0].split()[1] == "12"
    assert torch.load(run / "last.ckpt", weights_only=True)["global_step"] == 12

    sample = run_studio(
        ["sample", "--ckpt", str(run / "last.ckpt"), "--length", "20", "--num_samples", "2"], tmp_path, env
    )
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert sample.stdout.count("----- sample") == 2


def test_late_dropout_switches_on_every_rank_at_once(tmp_path: Path, studio_env: dict) -> None:
    """The switch follows the validation loss reduced across ranks, so the ranks never disagree."""
    env = dict(studio_env, PYTHONPATH=f"{ROOT / 'tests'}")
    fit = [*late_dropout_fit(tmp_path), *DDP, "--run_name", "drift", *_probe(tmp_path / "p")]
    result = run_studio(fit, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = _digests(tmp_path / "p")
    assert len(digests) == 2 and digests[0] == digests[1]
    assert digests[0].split()[2] == "dropout=0.25,0.25"  # on, on both ranks


def test_torchrun_launch_recipe(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    """The README's torchrun recipe, on one node with two CPU processes."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        "-m",
        "studio",
        *TINY_TEXT_FIT,
        *DDP,
        "--data.init_args.path",
        str(small_corpus),
        "--run_name",
        "torchrun",
        "--trainer.max_steps",
        "4",
        "--trainer.logger",
        "false",
    ]
    result = subprocess.run(command, cwd=tmp_path, env=studio_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting with 2 processes" in result.stdout + result.stderr
    assert torch.load(tmp_path / "checkpoints/torchrun/last.ckpt", weights_only=True)["global_step"] == 4


def test_a_killed_rank_ends_the_job_then_resume_keeps_the_step(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    base = [
        *TINY_TEXT_FIT,
        *DDP,
        "--data.init_args.path",
        str(small_corpus),
        "--run_name",
        "crash",
        "--trainer.logger",
        "false",
    ]
    last = tmp_path / "checkpoints/crash/last.ckpt"
    main = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio",
            *base,
            "--trainer.max_steps",
            "100000",
            "--last_checkpoint.every_n_steps",
            "5",
        ],
        cwd=tmp_path,
        env=studio_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 180
    while not last.exists():
        assert main.poll() is None and time.monotonic() < deadline, main.communicate()[1][-3000:]
        time.sleep(0.2)
    children = subprocess.run(["pgrep", "-P", str(main.pid)], capture_output=True, text=True).stdout.split()
    assert children, "rank 1 was not found"
    os.kill(int(children[0]), signal.SIGKILL)
    killed_at = time.monotonic()
    _, stderr = main.communicate(timeout=60)
    assert main.returncode != 0 and time.monotonic() - killed_at < 60
    assert "another process of this distributed run stopped" in stderr.strip().splitlines()[-1]
    step = torch.load(last, weights_only=True)["global_step"]
    assert step > 0
    resumed = run_studio([*base, "--ckpt_path", "last", "--trainer.max_steps", str(step + 2)], tmp_path, studio_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(last, weights_only=True)["global_step"] == step + 2


def test_tagging_ddp_trains_identical_ranks_and_tags(tmp_path: Path, studio_env: dict) -> None:
    from datamodules import synthetic_speech

    corpus = synthetic_speech.generate(tmp_path / "corpus", n_speakers=4, utts_per_speaker=4, seed=5)
    env = dict(studio_env, PYTHONPATH=f"{ROOT / 'tests'}")
    args = [
        *tiny_tagger_fit(corpus, batch_size=2),
        *DDP,
        "--run_name",
        "tagddp",
        *_probe(tmp_path / "probe"),
    ]
    result = run_studio(args, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    digests = _digests(tmp_path / "probe")
    assert len(digests) == 2 and digests[0] == digests[1]
    run = tmp_path / "checkpoints" / "tagddp"
    assert {p.name for p in run.glob("*.ckpt")} == {"last.ckpt", "best.ckpt"}
    clip = next(corpus.rglob("*.wav"))
    tagged = run_studio(["tag", "--ckpt", str(run / "best.ckpt"), str(clip)], tmp_path, env)
    assert tagged.returncode == 0, tagged.stderr[-3000:]


def test_midi_ddp_trains_identical_ranks_and_samples(tmp_path: Path, studio_env: dict) -> None:
    from test_cli_midi import TINY_MIDI_FIT

    env = dict(studio_env, PYTHONPATH=f"{ROOT / 'tests'}")
    result = run_studio(
        [*TINY_MIDI_FIT, *DDP, "--trainer.logger", "false", "--run_name", "mididdp", *_probe(tmp_path / "probe")],
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    digests = _digests(tmp_path / "probe")
    assert len(digests) == 2 and digests[0] == digests[1]
    run = tmp_path / "checkpoints" / "mididdp"
    sample = run_studio(
        ["sample", "--ckpt", str(run / "last.ckpt"), "--seconds", "2", "--num_samples", "1", "--no_render"],
        tmp_path,
        env,
    )
    assert sample.returncode == 0, sample.stderr[-3000:]
    assert list((tmp_path / "samples").rglob("*.mid"))


def test_a_preparation_longer_than_the_process_group_time_out_passes(tmp_path: Path, studio_env: dict) -> None:
    """Each rank prepares the store before its process group exists: one builds it (longer than the
    group's 8 s time-out), the other waits on the store's lock, not at a collective, and maps it after."""
    reads = tmp_path / "reads"
    env = dict(studio_env, PYTHONPATH=f"{ROOT / 'tests'}")
    # fmt: off
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
        "-m", "studio", "fit", "--config", str(ROOT / "configs" / "classify" / "quickstart.yaml"),
        "--data", "slow_data.SlowClassificationData",  # two reads of 5 s each: a 10 s first preparation
        "--data.init_args.read_seconds", "5", "--data.init_args.reads_dir", str(reads),
        "--data.init_args.num_words", "2000", "--data.init_args.max_len", "12",
        "--model.init_args.embedding_dim", "16", "--model.init_args.hidden_size", "16",
        "--trainer.devices", "2", "--trainer.strategy", "lightning.pytorch.strategies.DDPStrategy",
        "--trainer.strategy.init_args.timeout", "0:00:08",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "4", "--trainer.limit_val_batches", "2",
        "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--run_name", "slowprep",
    ]
    # fmt: on
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    builders = {name.split("-")[0] for name in os.listdir(reads)}
    assert len(builders) == 1 and len(os.listdir(reads)) == 2  # one process built it (two passes); the other mapped it
    assert len([p for p in (tmp_path / "cache" / "classify").iterdir() if not p.name.startswith(".")]) == 1  # one store
    assert (tmp_path / "checkpoints" / "slowprep" / "last.ckpt").is_file()
