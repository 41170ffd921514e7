"""Mistakes a user can make give one line on stderr naming the input and the fix, exit status 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "setup, needles",
    [
        (lambda d: d / "nope.txt", ["nope.txt", "does not exist"]),
        (lambda d: (d / "empty.txt").write_text("  \n") and d / "empty.txt", ["empty.txt", "is empty"]),
        (
            lambda d: (d / "bin.txt").write_bytes(b"abc\xff\xfe\x00") and d / "bin.txt",
            ["bin.txt", "not valid utf-8", "latin-1"],
        ),
    ],
    ids=["missing", "empty", "undecodable"],
)
def test_bad_corpus(tmp_path: Path, studio_env: dict, setup, needles: list[str]) -> None:
    path = setup(tmp_path)
    result = run_studio_here(
        [*TINY_TEXT_FIT, "--data.init_args.path", str(path), "--trainer.logger", "false"], tmp_path, studio_env
    )
    assert_one_line_error(result, *needles)
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--prompt", "Zebra\u263a"], ["--prompt", "never saw"]),
        (["--temperature", "0"], ["--temperature"]),
        (["--top_p", "1.5"], ["--top_p"]),
        (["--length", "0"], ["--length"]),
        (["--length", "ten"], ["--length", "--help"]),
        (["--seconds", "30"], ["text checkpoint", "--seconds", "--length"]),
        (["--notes_per_second", "4"], ["text checkpoint", "--notes_per_second"]),
        (["--beam_size", "3"], ["text checkpoint", "--beam_size"]),
    ],
    ids=[
        "prompt-unknown-chars",
        "temperature",
        "top_p",
        "length",
        "length-not-int",
        "midi-seconds",
        "midi-density",
        "midi-beam",
    ],
)
def test_bad_sample_arguments(trained_text: dict, args: list[str], needles: list[str]) -> None:
    before = (
        sorted((trained_text["work"] / "samples").rglob("*")) if (trained_text["work"] / "samples").exists() else []
    )
    result = run_studio_here(
        ["sample", "--ckpt", str(trained_text["run"] / "last.ckpt"), *args], trained_text["work"], trained_text["env"]
    )
    assert_one_line_error(result, *needles)
    after = sorted((trained_text["work"] / "samples").rglob("*")) if (trained_text["work"] / "samples").exists() else []
    assert after == before  # nothing written, nothing damaged


def test_bad_checkpoints(tmp_path: Path, studio_env: dict) -> None:
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    for path, needle in [
        (tmp_path / "missing.ckpt", "does not exist"),
        (foreign, "not a Studio checkpoint"),
        (garbage, "cannot be read"),
    ]:
        result = run_studio_here(["sample", "--ckpt", str(path)], tmp_path, studio_env)
        assert_one_line_error(result, str(path.name), needle)


def test_a_new_run_never_overwrites_an_old_one(trained_text: dict) -> None:
    run = trained_text["run"]
    before = (run / "last.ckpt").read_bytes()
    result = run_studio_here(
        [*TINY_TEXT_FIT, "--run_name", "tiny", "--trainer.logger", "false"], trained_text["work"], trained_text["env"]
    )
    assert_one_line_error(result, "checkpoints/tiny", "--ckpt_path last", "--run_name")
    assert (run / "last.ckpt").read_bytes() == before


NO_GPU = pytest.param(
    ["--trainer.accelerator", "gpu"],
    id="no-gpu",
    marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
)


@pytest.mark.parametrize("args", [NO_GPU, pytest.param(["--trainer.strategy", "nonsense"], id="strategy")])
def test_impossible_trainer_settings(tmp_path: Path, small_corpus: Path, studio_env: dict, args: list[str]) -> None:
    result = run_studio_here(
        [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--trainer.logger", "false", *args],
        tmp_path,
        studio_env,
    )
    assert_one_line_error(result, "trainer settings were refused", "--trainer.accelerator")
