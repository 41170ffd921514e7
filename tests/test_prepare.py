"""`studio prepare`: a run's data store built once ahead of training, and found ready by `studio fit`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, TINY_MIDI_FIT, assert_one_line_error, run_studio_here
from midi_songs import write_song

from studio.cli.prepare import data_arguments, data_config

CONFIGS = ROOT / "configs"


def _prepare(args: list[str], tmp_path: Path, env: dict) -> tuple[str, Path]:
    """Run `studio prepare ARGS`; its first line, and the store folder it names (which must exist)."""
    result = run_studio_here(["prepare", *args], tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    folder = Path(lines[1].split()[0])
    assert folder.is_dir() and folder.is_relative_to(Path(env["STUDIO_CACHE"])), result.stdout
    assert lines[1].endswith(("B", "kB", "MB", "GB")), result.stdout  # and how big it is
    return lines[0], folder


def test_prepare_builds_the_midi_store_once_and_fit_maps_it(tmp_path: Path, studio_env: dict) -> None:
    for i in range(4):
        write_song(tmp_path / "songs" / f"song{i}.mid", seed=i)
    # The run's own command line, given as it is: the model and trainer options are read past.
    fit = [*TINY_MIDI_FIT, "--data.init_args.paths", str(tmp_path / "songs"), "--data.init_args.batch_size", "4"]
    first, folder = _prepare(fit[1:], tmp_path, studio_env)
    assert first.startswith("prepared the MIDI store (4 pieces, ") and " events) in " in first
    again, same = _prepare(fit[1:], tmp_path, studio_env)
    assert again.startswith("already prepared: the MIDI store (4 pieces, ") and same == folder
    published = (folder / "meta.json").stat().st_mtime_ns

    result = run_studio_here(
        [*fit, "--trainer.max_steps", "2", "--trainer.logger", "false", "--run_name", "m"], tmp_path, studio_env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "meta.json").stat().st_mtime_ns == published  # mapped as it was, not rebuilt
    assert len([p for p in folder.parent.iterdir() if not p.name.startswith(".")]) == 1


@pytest.mark.parametrize(
    ("config", "settings", "kind"),
    [
        ("text/quickstart.yaml", [], "token store"),
        ("tagging/quickstart.yaml", ["--data.init_args.synthetic_speakers", "3"], "speech feature store"),
        ("classify/quickstart.yaml", ["--data.init_args.num_words", "500"], "classification store"),
        ("tag_text/quickstart.yaml", ["--data.init_args.mixed_sentences", "200"], "word-tagging store"),
    ],
    ids=["text", "tagging", "classify", "tag_text"],
)
def test_prepare_builds_each_tasks_store_once(
    config: str, settings: list[str], kind: str, tmp_path: Path, studio_env: dict
) -> None:
    args = ["--config", str(CONFIGS / config), *settings]
    first, folder = _prepare(args, tmp_path, studio_env)
    assert first.startswith(f"prepared the {kind} ("), first
    again, same = _prepare(args, tmp_path, studio_env)
    assert again.startswith(f"already prepared: the {kind} (") and same == folder


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "text/quickstart.yaml", "--data.init_args.seq_len", "64"],
        ["--config", "midi/quickstart.yaml", "--data.init_args.limit=20"],
        ["--config", "midi/performance-lstm.yaml", "--config", "trainer/multinode.yaml"],
        ["--config", "tagging/quickstart.yaml", "--data.init_args.label_map", "timit39"],
        ["--config", "classify/imdb-bigru.yaml"],
        ["--config", "tag_text/quickstart.yaml", "--trainer.max_epochs", "1", "--data.init_args.batch_size", "8"],
    ],
    ids=lambda a: a[1].replace("/", "-").removesuffix(".yaml"),
)
def test_prepare_reads_the_data_settings_fit_reads(args: list[str], tmp_path: Path, studio_env: dict) -> None:
    args = [str(CONFIGS / a) if a.endswith(".yaml") else a for a in args]
    printed = run_studio_here(["fit", *args, "--print_config"], tmp_path, studio_env)
    assert printed.returncode == 0, printed.stderr[-3000:]
    fit_data = yaml.safe_load(printed.stdout)["data"]
    prepare_data = json.loads(json.dumps(data_config(args).data.as_dict()))  # tuples as lists, as YAML has them
    assert prepare_data == fit_data


def test_data_arguments_keep_the_data_and_read_past_the_rest(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model:\n  class_path: x.Y\ndata:\n  init_args:\n    limit: 3\n", encoding="utf-8")
    no_data = tmp_path / "trainer.yaml"
    no_data.write_text("trainer:\n  devices: 2\n", encoding="utf-8")
    kept = data_arguments(
        [
            *["-c", str(config), f"--config={no_data}", "--trainer.devices", "2", "--model.init_args.dropout=0.1"],
            *["--data", "datamodules.midi.MidiDataModule", "--data.init_args.window=64", "--run_name", "r"],
            "--print_config",
        ]
    )
    assert kept == [
        "--config",
        yaml.safe_dump({"data": {"init_args": {"limit": 3}}}),
        *["--data", "datamodules.midi.MidiDataModule", "--data.init_args.window=64"],
    ]


def test_prepare_refuses_bad_settings_in_one_line(tmp_path: Path, studio_env: dict) -> None:
    midi = ["prepare", "--config", str(CONFIGS / "midi" / "quickstart.yaml")]
    assert_one_line_error(run_studio_here([*midi, "--data.init_args.window", "1"], tmp_path, studio_env), "window")
    assert_one_line_error(run_studio_here([*midi, "fit"], tmp_path, studio_env), "'fit'", "studio prepare --help")
    missing = run_studio_here(["prepare", "--config", str(tmp_path / "none.yaml")], tmp_path, studio_env)
    assert_one_line_error(missing, "does not exist")
    trainer_only = ["prepare", "--config", str(CONFIGS / "trainer" / "cpu-ddp.yaml"), "--trainer.max_steps", "3"]
    assert_one_line_error(run_studio_here(trainer_only, tmp_path, studio_env), "no data settings", "--data CLASS")
    assert not (tmp_path / "cache").exists()  # nothing was prepared
