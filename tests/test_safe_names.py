"""Names a user gives that become paths stay plain names inside their root: run names (`fit --run_name`), the
folders and files of a generation (SampleFolder), and the names files are uploaded under (the web studio)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here
from fastapi.testclient import TestClient

from studio.errors import StudioError
from studio.generation.outputs import SampleFolder, run_name
from studio.io import NAME_LIMIT, inside, name_problem, plain_name, safe_name
from studio.server import create_app

BAD_RUN_NAMES = ["../../elsewhere/evilrun", "a/b", "a\\b", "..", "a..b", ".hidden", "x\0y", "", "x" * (NAME_LIMIT + 1)]


@pytest.mark.parametrize("name", BAD_RUN_NAMES)
def test_a_run_name_that_is_not_a_plain_name_is_refused_in_one_line(name: str) -> None:
    with pytest.raises(StudioError) as refused:
        inside(Path("checkpoints"), "--run_name", name, "my-run")
    line = str(refused.value)
    assert line.startswith("--run_name ") and "must be a plain name (letters, digits, - _ . + =" in line
    assert line.endswith("not a path (" + str(name_problem(name)) + "): e.g. --run_name my-run")
    assert "\n" not in line and len(line) < 300


@pytest.mark.parametrize("name", ["my-run", "RecurrentLanguageModel-20240101-120000", "lr=3e-4+drop_0.1", "x" * 100])
def test_plain_run_names_pass(name: str) -> None:
    assert inside(Path("checkpoints"), "--run_name", name, "my-run") == Path("checkpoints") / name


def test_file_names_may_hold_spaces_and_letters_but_are_never_paths() -> None:
    for name in ["my clip.wav", "Überraschung.txt", ".hidden.mid", "a..b.wav"]:
        assert safe_name("the upload's name", name, "clip.wav", strict=False) == name
    for name in ["../x.wav", "a/b.wav", "C:\\x.wav", "..", ".", "", "a\0.wav", "a\nb.wav", "é" * 200]:
        with pytest.raises(StudioError, match="must be a plain file name, not a path"):
            safe_name("the upload's name", name, "clip.wav", strict=False)


def test_a_checkpoint_folder_name_is_made_plain() -> None:
    assert plain_name("tiny", "checkpoint") == "tiny" and plain_name("My Models", "checkpoint") == "My Models"
    assert plain_name("", "checkpoint") == "checkpoint" and plain_name("..", "checkpoint") == "checkpoint"
    assert plain_name("a\nb", "checkpoint") == "a-b"
    assert run_name(Path("/last.ckpt")) == "checkpoint"  # a checkpoint at the root: samples/checkpoint/...


def test_a_sample_folder_stays_under_its_root(tmp_path: Path) -> None:
    ckpt = tmp_path / "runs" / "tiny" / "last.ckpt"
    with SampleFolder(tmp_path / "samples", ckpt, 3, prefix="eval") as folder:
        assert folder.path is not None and folder.path.parent == tmp_path / "samples" / "tiny"
        assert folder.write("sample_1.txt", b"hi").parent == folder.path
        with pytest.raises(StudioError, match="must be a plain file name"):
            folder.write("../../escaped.txt", b"no")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "samples" / "escaped.txt").exists()
    with pytest.raises(StudioError, match="prefix '../../x' must be a plain name"):
        SampleFolder(tmp_path / "samples", ckpt, 3, prefix="../../x").__enter__()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples"]


@pytest.mark.slow
def test_fit_refuses_a_run_name_that_is_a_path_and_writes_nothing(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    fit = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--trainer.logger", "false"]
    result = run_studio_here([*fit, "--run_name", "../../elsewhere/evilrun"], work, studio_env)
    assert_one_line_error(result, "--run_name '../../elsewhere/evilrun' must be a plain name", "e.g. --run_name")
    assert list(work.iterdir()) == [] and not (tmp_path / "elsewhere").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["../../evil.txt", "..\\..\\evil.txt", ".."])
def test_the_web_studio_refuses_an_upload_named_as_a_path(tmp_path: Path, name: str) -> None:
    """(six-languages is a bundled classifier: the server offers it by name.)"""
    with TestClient(create_app(tmp_path / "checkpoints", tmp_path / "samples")) as client:
        files = {"file": (name, b"Ihr naht euch wieder", "text/plain")}
        response = client.post("/api/classify", data={"run": "six-languages"}, files=files)
        assert response.status_code == 400, response.text
        detail = response.json()["detail"]
        assert "the upload's name" in detail and "must be a plain file name, not a path" in detail, detail
        assert "\n" not in detail
        fine = client.post(
            "/api/classify", data={"run": "six-languages"}, files={"file": ("my review.txt", b"Ihr naht euch")}
        )
        assert fine.status_code == 200 and fine.json()["predictions"][0]["name"] == "my review.txt", fine.text
    saved = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert all(p.parts[:2] == ("samples", "six-languages") for p in saved), saved
