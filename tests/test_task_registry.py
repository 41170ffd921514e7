"""Every task is one record in one registry: nothing else branches on task names, and old runs keep working."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import ROOT
from tiny_runs import trained

from studio.codecs import CODECS
from studio.evaluation.request import evaluator
from studio.generation import Generator
from studio.generation.requests import options
from studio.generation.tasks import TASKS, find_task, task_of, task_of_folder
from studio.server.history import generation_record

NAMES = "|".join(["text", "midi", "speech", "tag", "tagger", "tagging", "language_model", *TASKS])
# A comparison of a kind or task with a task's name (Python or JavaScript), e.g. `kind == "speech"`.
BRANCH = re.compile(
    rf"""(kind|task)\)?\s*(===?|!==?)\s*["']({NAMES})["']|["']({NAMES})["']\s*(===?|!==?)\s*\S*(kind|task)\b"""
)


def test_no_code_outside_the_registry_branches_on_a_task_name() -> None:
    registry = ROOT / "studio" / "generation" / "tasks"
    found = []
    for path in [
        *(ROOT / "studio").rglob("*.py"),
        *(ROOT / "studio").rglob("*.js"),
        *(ROOT / "datamodules").rglob("*.py"),
    ]:
        if registry in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if BRANCH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
    assert BRANCH.search('if generator.kind == "speech":') and BRANCH.search('run.task === "midi"')  # the check checks


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_record_is_complete(name: str) -> None:
    task = TASKS[name]
    assert task.codec_kind in CODECS
    assert callable(evaluator(task.evaluate))
    assert hasattr(Generator, task.method)
    request = task.request
    assert dataclasses.is_dataclass(request) and request.__dataclass_params__.frozen  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        request(*[option.default for option in options(request)][:1] or [0])  # keyword-only
    assert all(option.declared.help for option in options(request))
    assert json.dumps(task.as_dict())  # what the page gets is plain data


def test_old_names_and_old_checkpoints_find_their_task() -> None:
    assert find_task("tagger") is find_task("speech") is find_task("tagging") is TASKS["speech_tagging"]
    assert task_of({"task": "language_model", "codec": {"kind": "midi"}}, "old.ckpt") is TASKS["midi"]
    assert task_of({"task": "tagger", "codec": {"kind": "speech"}}, "old.ckpt") is TASKS["speech_tagging"]
    assert task_of_folder({}, ["sample_1.mid", "settings.json"]) is TASKS["midi"]  # folders saved before the record


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["text", "tagger"])
def test_a_checkpoint_and_a_sample_folder_of_the_old_format_still_work(
    kind: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained(kind, tmp_path_factory)
    checkpoint = torch.load(run["ckpt"], weights_only=True)
    old_task = {"text": "language_model", "tagger": "tagger"}[kind]
    checkpoint["studio"].update(format=1, task=old_task)
    old = tmp_path / "checkpoints" / "old" / "last.ckpt"
    old.parent.mkdir(parents=True)
    torch.save(checkpoint, old)
    generator = Generator.from_checkpoint(old)
    assert generator.task is TASKS["text" if kind == "text" else "speech_tagging"]
    if kind == "text":
        assert generator.text(length=12, seed=3) == Generator.from_checkpoint(run["ckpt"]).text(length=12, seed=3)
    # A generation folder written before settings.json named its task is still read back for the page.
    folder = tmp_path / "samples" / "old" / "20250101-000000-seed0"
    folder.mkdir(parents=True)
    if kind == "text":
        (folder / "sample_1.txt").write_text("The old text", encoding="utf-8")
    else:
        (folder / "a.phn").write_text("0 160 h#\n", encoding="utf-8")
        (folder / "a.json").write_text(
            json.dumps({"duration_s": 0.01, "labels": [{"label": "h#", "start": 0, "end": 0.01}]})
        )
    (folder / "settings.json").write_text(json.dumps({"seed": 0}), encoding="utf-8")
    record = generation_record(tmp_path / "samples", "old", folder)
    assert record["task"] == generator.task.name
    assert record.get("texts", ["The old text"]) == ["The old text"] and record.get("spans", [1])
    shutil.rmtree(tmp_path / "checkpoints")
