"""A stopped or killed run loses at most one checkpoint interval, and `last.ckpt` is always loadable."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, run_studio

pytestmark = pytest.mark.slow


def _start(tmp_path: Path, corpus: Path, env: dict, run: str) -> subprocess.Popen:
    args = [
        *TINY_TEXT_FIT,
        "--data.init_args.path",
        str(corpus),
        "--trainer.logger",
        "false",
        "--run_name",
        run,
        "--trainer.max_steps",
        "100000",
        "--last_checkpoint.every_n_steps",
        "5",
    ]
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.2)
    time.sleep(0.5)  # let training run past the first save


@pytest.mark.parametrize("how", ["sigterm", "sigint"])
def test_sigterm_and_ctrl_c_save_then_resume(tmp_path: Path, small_corpus: Path, studio_env: dict, how: str) -> None:
    last = tmp_path / "checkpoints" / "stop" / "last.ckpt"
    process = _start(tmp_path, small_corpus, studio_env, "stop")
    _wait_for(last, process)
    process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr[-3000:]
    assert "resume with --ckpt_path last" in stderr and "Traceback" not in stderr
    step = torch.load(last, weights_only=True)["global_step"]
    assert step > 0
    resumed = run_studio(
        [
            *TINY_TEXT_FIT,
            "--data.init_args.path",
            str(small_corpus),
            "--trainer.logger",
            "false",
            "--run_name",
            "stop",
            "--ckpt_path",
            "last",
            "--trainer.max_steps",
            str(step + 3),
        ],
        tmp_path,
        studio_env,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(last, weights_only=True)["global_step"] == step + 3


def test_sigkill_leaves_a_loadable_last_checkpoint(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    last = tmp_path / "checkpoints" / "killed" / "last.ckpt"
    process = _start(tmp_path, small_corpus, studio_env, "killed")
    _wait_for(last, process)
    for _ in range(5):  # kill at an arbitrary moment, possibly while a checkpoint is being written
        time.sleep(0.13)
        torch.load(last, weights_only=True)
    process.kill()
    process.communicate(timeout=30)
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] % 5 == 0 and checkpoint["global_step"] >= 5


def test_last_checkpoint_holds_the_final_step_when_max_steps_ends_the_run(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    # Validation at step 3 writes last.ckpt; the run goes on to step 5 and stops there.
    args = [
        *TINY_TEXT_FIT,
        "--data.init_args.path",
        str(small_corpus),
        "--trainer.logger",
        "false",
        "--run_name",
        "ends",
        "--trainer.max_steps",
        "5",
        "--trainer.val_check_interval",
        "3",
    ]
    result = run_studio(args, tmp_path, studio_env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert torch.load(tmp_path / "checkpoints" / "ends" / "last.ckpt", weights_only=True)["global_step"] == 5
    assert "weights_only" not in result.stderr and "litlogger" not in result.stderr  # no noise from the save or tip
