"""One process owns a run folder at a time: a second `studio fit` of it is refused in one line naming the
holder, a lock left by a killed process is taken over, and `validate` never writes into another run's files
(nor into its own run's while that run trains)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here
from tiny_runs import trained

from studio.errors import StudioError
from studio.training.run_lock import LOCK_FILE, Holder, RunLock, claim_run, other_rank

QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


def _dead_pid() -> int:
    """The id of a process of this host that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def _left_behind(folder: Path, pid: int) -> None:
    """A lock file as a killed `studio fit` leaves it: naming its holder, held by nobody."""
    folder.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "host": socket.gethostname(), "started": time.time() - 60, "command": "studio fit"}
    (folder / LOCK_FILE).write_text(json.dumps(record))


# --- the lock itself --------------------------------------------------------------------------------


def test_one_holder_at_a_time_then_nothing_left(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints" / "r"
    with RunLock.acquire(folder, "studio fit") as lock:
        assert lock is not None and lock.held
        holder = Holder.parse((folder / LOCK_FILE).read_bytes())
        assert holder is not None and holder.pid == os.getpid() and holder.command == "studio fit"
        with pytest.raises(StudioError) as refused:
            RunLock.acquire(folder, "studio fit")  # another open file: refused even in this process
        line = str(refused.value)
        assert f"{folder} is in use by studio fit (pid {os.getpid()} on host {socket.gethostname()}) since" in line
        assert "wait for it to end, or use another --run_name" in line and "\n" not in line
        assert RunLock.acquire(folder, "studio validate", refuse=False) is None
    assert not (tmp_path / "checkpoints").exists()  # the folders it made, and its file, are gone


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = tmp_path / "r"
    dead = _dead_pid()
    _left_behind(folder, dead)
    with RunLock.acquire(folder, "studio fit") as lock:
        assert lock is not None and lock.held
    assert f"was left locked by studio fit (pid {dead} on host" in capsys.readouterr().err
    assert not (folder / LOCK_FILE).exists()


def test_a_killed_holder_whose_child_still_holds_the_file_is_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A data loader worker the killed process forked keeps the flock: the file names a pid that is gone."""
    folder = tmp_path / "r"
    dead = _dead_pid()
    _left_behind(folder, dead)
    hold = "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); "
    child = subprocess.Popen(
        [sys.executable, "-c", hold + "print('held', flush=True); time.sleep(60)", str(folder / LOCK_FILE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with RunLock.acquire(folder, "studio fit") as lock:
            assert lock is not None and lock.held
        assert f"was held by studio fit (pid {dead} on host" in capsys.readouterr().err
    finally:
        child.kill()
        child.wait()


def test_other_ranks_of_a_distributed_job_take_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "r"
    with RunLock.acquire(folder, "studio fit"):  # the launching process holds it
        monkeypatch.setenv("LOCAL_RANK", "1")  # as Lightning's launcher starts rank 1
        assert other_rank() and claim_run("fit", str(folder), None) is None
        monkeypatch.setenv("LOCAL_RANK", "0")
        monkeypatch.setenv("RANK", "0")  # torchrun's rank 0 is the one that takes it
        assert not other_rank()
        with pytest.raises(StudioError, match="is in use by"):
            claim_run("fit", str(folder), None)


# --- the real command -----------------------------------------------------------------------------


@pytest.fixture()
def run(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A private copy of the shared tiny text run at `tmp_path/checkpoints/text`, and its environment."""
    shared = trained("text", tmp_path_factory)
    folder = tmp_path / "checkpoints" / "text"
    shutil.copytree(shared["ckpt"].parent, folder)
    return {"folder": folder, "env": shared["env"], "config": str(folder / "config.yaml")}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.slow
def test_a_second_fit_of_a_training_run_is_refused_with_its_pid(run: dict, tmp_path: Path) -> None:
    resume = ["fit", "--config", run["config"], "--ckpt_path", "last", *QUIET]
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "studio",
            *resume,
            "--trainer.max_steps",
            "1000000",
            "--trainer.max_time",
            "00:00:03:00",
        ],
        cwd=tmp_path,
        env=run["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while Holder.parse(_read(run["folder"] / LOCK_FILE)) is None:
            assert first.poll() is None and time.monotonic() < deadline, first.stderr and first.stderr.read()
            time.sleep(0.1)
        second = run_studio_here([*resume, "--trainer.max_steps", "50"], tmp_path, run["env"])
        line = assert_one_line_error(second, "checkpoints/text is in use by studio fit")
        assert f"(pid {first.pid} on host {socket.gethostname()})" in line and "another --run_name" in line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # Killed without letting go: the next run takes the folder over, and says so.
    resumed = run_studio_here([*resume, "--trainer.max_steps", "7"], tmp_path, run["env"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"was left locked by studio fit (pid {first.pid} on host" in resumed.stderr
    assert not (run["folder"] / LOCK_FILE).exists()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


@pytest.mark.slow
def test_a_new_run_under_a_held_name_is_refused_and_leaves_nothing(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    """The lock held from this process (another open file): the command names this pid, and writes nothing."""
    folder = tmp_path / "checkpoints" / "held"
    fit = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), *QUIET, "--run_name", "held"]
    with RunLock.acquire(folder, "studio fit"):
        before = _files(folder)
        result = run_studio_here([*fit, "--trainer.max_steps", "2"], tmp_path, studio_env)
        assert_one_line_error(result, "checkpoints/held is in use by studio fit", f"(pid {os.getpid()} ")
        assert _files(folder) == before
    assert not folder.exists()


@pytest.mark.slow
def test_validate_writes_only_into_its_own_run_and_only_when_free(run: dict, tmp_path: Path) -> None:
    folder = run["folder"]
    before = _files(folder)
    foreign = tmp_path / "elsewhere" / "last.ckpt"  # the same model, but another run's checkpoint
    foreign.parent.mkdir()
    shutil.copy(folder / "last.ckpt", foreign)
    validate = ["validate", "--config", run["config"], *QUIET]

    result = run_studio_here([*validate, "--ckpt_path", str(foreign)], tmp_path, run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{foreign} is not a checkpoint of checkpoints/text" in result.stderr
    assert _files(folder) == before  # metrics.csv and status.json untouched, no lock file left

    with RunLock.acquire(folder, "studio fit"):  # the run is training: its own checkpoint is read only
        result = run_studio_here([*validate, "--ckpt_path", "last"], tmp_path, run["env"])
        assert result.returncode == 0, result.stderr[-3000:]
        assert "checkpoints/text is in use by studio fit" in result.stderr
        assert {k: v for k, v in _files(folder).items() if k != LOCK_FILE} == before

    result = run_studio_here([*validate, "--ckpt_path", "last"], tmp_path, run["env"])  # free, its own
    assert result.returncode == 0, result.stderr[-3000:]
    after = _files(folder)
    added = after["metrics.csv"][len(before["metrics.csv"]) :]
    assert after["metrics.csv"].startswith(before["metrics.csv"]) and b"val_loss" in added
    assert LOCK_FILE not in after
