"""A cache entry's preparation is kept apart even where flock is granted to everyone: the owner marker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from datamodules import owner_marker
from datamodules.owner_marker import owning
from studio.errors import StudioError


def _marker(path: Path, host: str, pid: int, age: float = 0.0) -> None:
    path.write_text(json.dumps({"host": host, "pid": pid, "started": time.time()}), encoding="utf-8")
    then = time.time() - age
    os.utime(path, (then, then))


def test_the_owner_writes_who_it_is_and_removes_the_marker(tmp_path: Path) -> None:
    marker = tmp_path / "entry.lock.owner"
    with owning(marker):
        owner = json.loads(marker.read_text())
        assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname()
    assert not marker.exists()


def test_a_live_owner_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(owner_marker, "POLL_SECONDS", 0.02)
    marker = tmp_path / "entry.lock.owner"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _marker(marker, socket.gethostname(), sleeper.pid)  # another live process prepares
        entered = threading.Event()

        def wait_then_enter() -> None:
            with owning(marker):
                entered.set()

        waiter = threading.Thread(target=wait_then_enter)
        waiter.start()
        time.sleep(0.3)
        assert not entered.is_set()  # it waits while the owner lives
        marker.unlink()  # the owner finishes
        waiter.join(timeout=10)
        assert entered.is_set()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_marker_left_by_a_dead_process_here_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "entry.lock.owner"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    _marker(marker, socket.gethostname(), int(dead.stdout))
    with owning(marker):
        assert json.loads(marker.read_text())["pid"] == os.getpid()
    assert "which has ended: taking it over" in capsys.readouterr().err


def test_a_stale_marker_of_another_host_is_named_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "entry.lock.owner"
    _marker(marker, "node-7", 4242, age=600)
    with (
        pytest.raises(StudioError, match=r"process 4242 on node-7 is preparing .* not been touched for 6\d\d s: if no"),
        owning(marker, stale_seconds=120),
    ):
        pass
    assert marker.exists()  # nothing of the other node's is removed


def test_the_heartbeat_keeps_a_long_preparation_fresh(tmp_path: Path) -> None:
    marker = tmp_path / "entry.lock.owner"
    with owning(marker, heartbeat=0.05):
        os.utime(marker, (time.time() - 500, time.time() - 500))
        time.sleep(0.3)
        assert time.time() - marker.stat().st_mtime < 1.0
