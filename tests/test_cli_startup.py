"""The command answers at once: `studio --help` and each task command's help load no framework.

Each help runs in a fresh interpreter, which reports the modules it loaded; PyTorch, Lightning and the
other heavy packages must not be among them, and the count of modules is bounded, so an import added
at the top of a module on the help's path fails here rather than slowing every command by seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "torch",
    "lightning",
    "numpy",
    "scipy",
    "pretty_midi",
    "tokenizers",
    "matplotlib",
    "fastapi",
    "wandb",
    "music21",
)
# The standard library and Studio's light modules a help loads come to about 130; room for a few more.
MAX_MODULES = 200
PROBE = """
import json, sys
from studio.cli import main
try:
    main(sys.argv[1:])
except SystemExit as stop:
    code = stop.code or 0
else:
    code = 0
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "command",
    [
        *[[], ["sample"], ["tag"], ["classify"], ["evaluate"], ["serve"], ["fit"], ["validate"], ["test"]],
        *[["models"], ["prepare"]],
    ],
    ids=lambda c: c[0] if c else "studio",
)
def test_help_loads_no_framework(command: list[str]) -> None:
    done = subprocess.run([sys.executable, "-c", PROBE, *command, "--help"], capture_output=True, text=True, timeout=60)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0 and "usage:" in done.stdout
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))
    assert len(report["modules"]) <= MAX_MODULES, len(report["modules"])


def test_the_task_records_load_no_framework() -> None:
    probe = "import json, sys, studio.generation.tasks as t; t.TASKS; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert not {name.split(".")[0] for name in json.loads(done.stdout)} & set(HEAVY)


# Inference builds the plain networks of studio.nets, so a bundle answers without these.
NOT_FOR_INFERENCE = ("lightning", "torchmetrics", "scipy", "matplotlib", "music21", "wandb", "fastapi")


@pytest.mark.parametrize(
    "command",
    [
        ["sample", "--ckpt", "lady-susan", "--length", "20"],
        ["sample", "--ckpt", "bach-chorales", "--seconds", "2"],
        ["classify", "--ckpt", "six-languages", "-"],
        ["tag", "--ckpt", "foreign-passages", "-"],
    ],
    ids=lambda c: f"{c[0]}-{c[2]}",
)
def test_a_bundle_answers_without_lightning(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *command],
        input="Der Hund ist hier und das Haus ist sehr groß.\n",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr[-2000:]
    assert "torch" in {name.split(".")[0] for name in report["modules"]}  # it did load a model
    loaded = {name.split(".")[0] for name in report["modules"]}
    drawn = {"matplotlib"} if "bach-chorales" in command else set()  # a MIDI sample comes with its piano roll
    assert not loaded & (set(NOT_FOR_INFERENCE) - drawn), sorted(loaded & set(NOT_FOR_INFERENCE))
    assert list((tmp_path / "samples").iterdir())  # and wrote its results


def test_each_network_knows_which_stored_settings_are_its_training_s() -> None:
    import inspect

    from studio.generation.tasks import TASKS
    from studio.models import RecurrentLanguageModel, SequenceClassifier, SequenceTagger, WordTagger

    def taken(cls: type) -> set[str]:
        return set(inspect.signature(cls.__init__).parameters) - {"self"}

    def defaults(cls: type) -> dict[str, object]:
        return {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}

    for model in (RecurrentLanguageModel, SequenceClassifier, SequenceTagger, WordTagger):
        net = next(task.net for task in TASKS.values() if issubclass(model, task.net))
        assert taken(model) == taken(net) | net.training_settings, model.__name__  # the loader refuses the rest
        shared = defaults(model).keys() & defaults(net).keys()
        # The command line reads the model's signature and inference the network's: one default each.
        assert {k: defaults(model)[k] for k in shared} == {k: defaults(net)[k] for k in shared}, model.__name__
