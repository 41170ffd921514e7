"""Runs saved before the package was layered still resume: their config.yaml names the old class paths."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import run_studio

from studio.cli.legacy import OLD_MODULES

pytestmark = pytest.mark.slow


def test_every_old_class_path_still_names_its_class() -> None:
    import importlib

    from studio.cli.legacy import alias_old_class_paths

    alias_old_class_paths()
    for old, (new, names) in OLD_MODULES.items():
        for name in names:
            assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)


def test_a_run_saved_with_the_old_class_paths_resumes(trained_text: dict, tmp_path: Path) -> None:
    run = tmp_path / "checkpoints" / "tiny"
    shutil.copytree(trained_text["run"], run)
    text = (run / "config.yaml").read_text()
    old = text.replace("studio.training.tracking.", "studio.tracking.").replace(
        "studio.training.text_samples.", "studio.callbacks."
    )
    assert "studio.tracking.StudioWandbLogger" in old and "studio.callbacks.TextSampleLogger" in old
    (run / "config.yaml").write_text(old)
    result = run_studio(
        ["fit", "--config", str(run / "config.yaml"), "--ckpt_path", "last", "--trainer.max_epochs", "3"],
        tmp_path,
        trained_text["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["trainer"]["max_epochs"] == 3  # the resumed run saved its config
    assert saved["trainer"]["logger"]["class_path"].endswith("StudioWandbLogger")
