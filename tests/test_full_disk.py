"""A filesystem that says no (a full disk, a cache under a file, a damaged cache entry): one line, nothing
half-written left behind, earlier files untouched, and damaged caches rebuilt."""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path

import pytest
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here
from tiny_runs import trained

import studio.io
from datamodules.text import TextDataModule

pytestmark = pytest.mark.slow


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_a_disk_that_fills_during_sample_leaves_no_partial_folder(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = trained("text", tmp_path_factory)
    env = dict(run["env"], STUDIO_CACHE=str(tmp_path / "cache"))
    sample = ["sample", "--ckpt", str(run["ckpt"]), "--length", "20", "--num_samples", "3"]
    assert run_studio_here(sample, tmp_path, env).returncode == 0
    earlier = _digests(tmp_path / "samples")
    real = os.replace
    written: list[str] = []

    def fill_up(src: os.PathLike, dst: os.PathLike) -> None:
        if len(written) == 1:  # the second file published finds the disk full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        written.append(str(dst))
        real(src, dst)

    monkeypatch.setattr(studio.io.os, "replace", fill_up)
    result = run_studio_here(sample, tmp_path, env)
    assert_one_line_error(result, "No space left on device")
    assert _digests(tmp_path / "samples") == earlier, "the earlier samples changed, or the failed ones stayed"
    assert not [p for p in tmp_path.rglob("*.tmp")], "a temporary file was left behind"


def test_a_disk_that_fills_while_saving_a_checkpoint_keeps_the_last_one(
    tmp_path: Path, small_corpus: Path, studio_env: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lightning.pytorch.plugins.io import TorchCheckpointIO

    fit = [
        *TINY_TEXT_FIT,
        "--data.init_args.path",
        str(small_corpus),
        "--trainer.logger",
        "false",
        "--run_name",
        "full",
        "--trainer.max_steps",
        "4",
    ]
    assert run_studio_here(fit, tmp_path, studio_env).returncode == 0
    run = tmp_path / "checkpoints" / "full"
    # The resumed run may save its config (training did restart); its checkpoints must stay as they were.
    before = {name: digest for name, digest in _digests(run).items() if name.endswith(".ckpt")}

    def no_space(self, checkpoint, path, storage_options=None) -> None:
        Path(path).write_bytes(b"half a check")  # what a full disk leaves: a partial file
        raise RuntimeError(
            "[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed writing file data/3: file write failed"
        )

    monkeypatch.setattr(TorchCheckpointIO, "save_checkpoint", no_space)
    result = run_studio_here([*fit[:-2], "--trainer.max_steps", "8", "--ckpt_path", "last"], tmp_path, studio_env)
    assert_one_line_error(result, "free disk space", "intact")
    after = {name: digest for name, digest in _digests(run).items() if name.endswith(".ckpt")}
    assert after == before, "a checkpoint changed"
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]


def test_a_cache_that_cannot_be_written_is_one_line(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache cannot live under a file\n")
    env = dict(studio_env, STUDIO_CACHE=str(blocker / "cache"))
    fit = [
        *TINY_TEXT_FIT,
        "--data.init_args.path",
        str(small_corpus),
        "--trainer.logger",
        "false",
        "--trainer.max_steps",
        "1",
    ]
    assert_one_line_error(run_studio_here(fit, tmp_path, env), "a-file", "Not a directory")


def test_a_damaged_text_cache_entry_is_rebuilt_with_a_notice(tmp_path: Path, small_corpus: Path) -> None:
    first = TextDataModule(path=str(small_corpus), cache_dir=str(tmp_path))
    vocabulary = first.codec.to_dict()  # reading the codec prepares the corpus and writes the cache entry
    entry = next((tmp_path / "text").glob("*/ids.bin"))
    entry.write_bytes(entry.read_bytes()[:100])
    second = TextDataModule(path=str(small_corpus), cache_dir=str(tmp_path))
    with pytest.warns(UserWarning, match="rebuilding a damaged cache entry"):
        assert second.codec.to_dict() == vocabulary
    assert entry.stat().st_size > 1000  # the entry was written again, whole
