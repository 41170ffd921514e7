"""Opening someone else's checkpoint never runs code from it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from conftest import run_studio_here

from studio.checkpoint import read_checkpoint
from studio.errors import StudioError


class Payload:
    """Unpickling this object would create a marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save(
        {
            "studio": {"format": 1, "task": "language_model"},
            "state_dict": {},
            "hyper_parameters": {"x": Payload(marker)},
        },
        path,
    )
    assert not marker.exists()
    return path, marker


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    path, marker = _evil_checkpoint(tmp_path)
    with pytest.raises(StudioError, match="could run code when opened, so it was refused"):
        read_checkpoint(str(path))
    assert not marker.exists()


@pytest.mark.slow
def test_sample_refuses_a_malicious_checkpoint(tmp_path: Path, studio_env: dict) -> None:
    path, marker = _evil_checkpoint(tmp_path)
    result = run_studio_here(["sample", "--ckpt", str(path)], tmp_path, studio_env)
    assert result.returncode == 2 and "refused" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


def test_a_newer_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "future.ckpt"
    torch.save({"studio": {"format": 99, "version": "9.0"}, "state_dict": {}}, path)
    with pytest.raises(StudioError, match=r"written by Studio 9.0 \(checkpoint format 99\), newer than this one"):
        read_checkpoint(str(path))
