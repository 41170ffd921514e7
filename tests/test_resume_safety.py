"""A failed or mistaken resume never loses a run: config.yaml and checkpoints stay byte-identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here

pytestmark = pytest.mark.slow


def _copy_run(trained_text: dict, tmp_path: Path) -> Path:
    """A private copy of the shared tiny run, so these tests may try to damage it."""
    target = tmp_path / "checkpoints" / "tiny"
    shutil.copytree(trained_text["run"], target)
    return target


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_mismatched_resume_fails_in_one_line_and_the_plain_resume_still_works(
    trained_text: dict, tmp_path: Path
) -> None:
    run = _copy_run(trained_text, tmp_path)
    before = _snapshot(run)
    config = str(run / "config.yaml")
    bad = ["fit", "--config", config, "--model.init_args.hidden_size", "64", "--ckpt_path", "last"]
    result = run_studio_here([*bad, "--trainer.logger", "false"], tmp_path, trained_text["env"])
    assert_one_line_error(result, "last.ckpt", "does not fit the model", "rnn")
    assert _snapshot(run) == before, "a failed resume changed the run's files"
    resumed = run_studio_here(
        ["fit", "--config", config, "--ckpt_path", "last", "--trainer.max_epochs", "3", "--trainer.logger", "false"],
        tmp_path,
        trained_text["env"],
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert (run / "last.ckpt").read_bytes() != before["last.ckpt"]


def test_resuming_a_run_that_has_no_checkpoint_is_an_error_not_a_fresh_start(
    trained_text: dict, tmp_path: Path
) -> None:
    run = _copy_run(trained_text, tmp_path)
    config = str(run / "config.yaml")
    result = run_studio_here(
        [
            "fit",
            "--config",
            config,
            "--run_name",
            "tinny",
            "--checkpoint.dirpath",
            "checkpoints/tinny",
            "--ckpt_path",
            "last",
            "--trainer.logger",
            "false",
        ],
        tmp_path,
        trained_text["env"],
    )
    assert_one_line_error(result, "--ckpt_path last", "checkpoints/tinny", "nothing to resume")
    assert not (tmp_path / "checkpoints" / "tinny").exists()


def test_a_new_run_never_replaces_a_config_yaml_already_in_its_folder(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.yaml").write_text("my precious notes\n")
    result = run_studio_here(
        [
            *TINY_TEXT_FIT,
            "--data.init_args.path",
            str(small_corpus),
            "--checkpoint.dirpath",
            str(folder),
            "--trainer.max_steps",
            "2",
            "--trainer.logger",
            "false",
        ],
        tmp_path,
        studio_env,
    )
    assert_one_line_error(result, str(folder), "already holds an earlier run")
    assert (folder / "config.yaml").read_text() == "my precious notes\n"
    assert sorted(p.name for p in folder.iterdir()) == ["config.yaml"]


@pytest.mark.parametrize(
    "damage, needles",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), ["cannot be read"]),
        (lambda p: p.write_bytes(b""), ["cannot be read"]),
        (lambda p: __import__("torch").save({"weights": [1, 2]}, p), ["not a Studio checkpoint"]),
    ],
    ids=["truncated", "empty", "foreign"],
)
def test_resume_and_validate_from_a_damaged_checkpoint_are_one_line(
    trained_text: dict, tmp_path: Path, damage, needles: list[str]
) -> None:
    run = _copy_run(trained_text, tmp_path)
    damage(run / "last.ckpt")
    before = _snapshot(run)
    config = str(run / "config.yaml")
    for command in (["fit", "--ckpt_path", "last"], ["validate", "--ckpt_path", str(run / "last.ckpt")]):
        result = run_studio_here(
            [command[0], "--config", config, *command[1:], "--trainer.logger", "false"], tmp_path, trained_text["env"]
        )
        assert_one_line_error(result, "last.ckpt", *needles)
    assert _snapshot(run) == before
