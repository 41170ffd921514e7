"""`studio fit --help` answers at once with the options people use, each one LightningCLI really takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_studio

from studio.cli.fit_help import OPTIONS, presets, quick_help, wants_quick_help

REPO = Path(__file__).resolve().parents[1]


def _flags(option: str) -> list[str]:
    """The option names of a help row: `--model.init_args.NAME VALUE` -> `--model`, `-c, --config FILE` -> both."""
    names = re.findall(r"(?<![\w.-])(--?[a-z_][a-z_.]*)", option)
    return [name.split(".init_args")[0] for name in names]


def test_only_a_bare_help_is_answered_quickly() -> None:
    assert wants_quick_help(["--help"]) and wants_quick_help(["-h", "--trainer.max_steps", "5"])
    assert not wants_quick_help(["--help", "--full"])
    assert not wants_quick_help(["--config", "x.yaml", "--help"]) and not wants_quick_help(["--config=x.yaml", "-h"])
    assert not wants_quick_help(["--config", "x.yaml"])


def test_the_page_lists_every_preset_and_its_comment() -> None:
    page = quick_help("fit", REPO / "configs")
    shipped = sorted(REPO.glob("configs/*/*.yaml"))
    assert shipped and all(path.as_posix() in page for path in shipped)
    assert "Lady Susan" in page  # the first comment line of configs/text/quickstart.yaml
    assert all(option in page for option, _ in OPTIONS)
    assert "studio fit --help --full" in page
    assert presets(REPO / "no-such-folder") == []
    assert "presets: the configs/ folder" in quick_help("test", REPO / "no-such-folder")


@pytest.mark.parametrize("command", ["fit", "validate", "test"])
def test_the_command_prints_the_page(command: str, studio_env: dict[str, str]) -> None:
    result = run_studio([command, "--help"], REPO, studio_env, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"usage: studio {command} --config FILE")
    assert "configs/midi/quickstart.yaml" in result.stdout


def test_every_option_on_the_page_is_one_lightning_cli_takes(studio_env: dict[str, str]) -> None:
    full = run_studio(["fit", "--help", "--full"], REPO, studio_env, timeout=120)
    assert full.returncode == 0, full.stderr[-2000:]
    assert "--trainer.limit_train_batches" in full.stdout  # LightningCLI's own reference, not the page
    for option, _ in OPTIONS:
        for flag in _flags(option):
            assert re.search(rf"(?<![\w.-]){re.escape(flag)}(?![\w])", full.stdout), f"{flag} ({option})"


def test_the_page_s_way_to_a_model_s_settings_works(studio_env: dict[str, str]) -> None:
    way = quick_help("validate").splitlines()[-1].split(": ", 1)[1].split(", ")[0].split()
    assert way[:2] == ["studio", "validate"]
    result = run_studio(way[1:], REPO, studio_env, 120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--model.pooling" in result.stdout and "--model.bidirectional" in result.stdout
