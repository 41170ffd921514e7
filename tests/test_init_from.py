"""`studio fit --init_from`: a new run starts from another model's weights (a bundle, a file, a URL), and resumes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import TINY_TEXT_FIT, assert_one_line_error, run_studio_here
from tiny_runs import TINY_MIDI_FIT, trained

pytestmark = pytest.mark.slow
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false"]


def test_fine_tuning_starts_from_the_weights_and_resumes(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    base = trained("midi", tmp_path_factory)
    songs = ["--data.init_args.paths", str(base["work"] / "songs")]
    fit = [*TINY_MIDI_FIT, *songs, *QUIET, "--run_name", "tuned", "--init_from", str(base["ckpt"])]
    # A learning rate too small to move anything: what the run saves is what it started from.
    result = run_studio_here([*fit, "--trainer.max_steps", "1", "--model.init_args.lr", "1e-12"], tmp_path, base["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    start = torch.load(base["ckpt"], weights_only=True)["state_dict"]
    tuned = torch.load(tmp_path / "checkpoints" / "tuned" / "last.ckpt", weights_only=True)["state_dict"]
    assert all(torch.allclose(start[k], tuned[k], atol=1e-6) for k in start)
    config = str(tmp_path / "checkpoints" / "tuned" / "config.yaml")
    resumed = run_studio_here(
        ["fit", "--config", config, "--ckpt_path", "last", "--trainer.max_steps", "2"], tmp_path, base["env"]
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert torch.load(tmp_path / "checkpoints" / "tuned" / "last.ckpt", weights_only=True)["global_step"] == 2


def test_a_model_of_another_task_or_codec_is_refused_before_training(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, small_corpus: Path
) -> None:
    text, midi = trained("text", tmp_path_factory), trained("midi", tmp_path_factory)
    songs = ["--data.init_args.paths", str(midi["work"] / "songs"), *QUIET, "--trainer.max_steps", "1"]
    other_task = run_studio_here([*TINY_MIDI_FIT, *songs, "--init_from", str(text["ckpt"])], tmp_path, midi["env"])
    assert_one_line_error(other_task, "is a text model, but this run trains midi")
    corpus = tmp_path / "other.txt"
    corpus.write_text("Zebras quietly jog past wax fjords. " * 200, encoding="utf-8")
    fit = [*TINY_TEXT_FIT, "--data.init_args.path", str(corpus), *QUIET, "--trainer.max_steps", "1"]
    other_vocabulary = run_studio_here([*fit, "--init_from", str(text["ckpt"])], tmp_path, text["env"])
    assert_one_line_error(other_vocabulary, "reads its data with another codec", "its tokenizer differ")
    assert not (tmp_path / "checkpoints").exists() or not list((tmp_path / "checkpoints").rglob("*.ckpt"))
    missing = run_studio_here([*fit, "--init_from", "no-such-bundle"], tmp_path, text["env"])
    assert_one_line_error(missing, "no-such-bundle is neither a checkpoint file nor a bundled model")


def test_the_bundled_midi_model_fine_tunes_on_a_folder_of_the_users_files(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    from studio.generation.references import bundle_names

    if "bach-chorales" not in bundle_names():
        pytest.skip("the bach-chorales bundle is not in this install (make bundles builds it)")
    songs = trained("midi", tmp_path_factory)["work"] / "songs"
    preset = str(Path(__file__).resolve().parents[1] / "configs" / "midi" / "quickstart.yaml")
    fit = ["fit", "--config", preset, "--data.init_args.paths", str(songs), "--init_from", "bach-chorales", *QUIET]
    fit += ["--data.init_args.window", "64", "--data.init_args.stride", "64", "--data.init_args.val_fraction", "0.25"]
    env = trained("midi", tmp_path_factory)["env"]
    result = run_studio_here(
        [*fit, "--run_name", "mine", "--trainer.max_steps", "2", "--trainer.max_time", "null"], tmp_path, env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = str(tmp_path / "checkpoints" / "mine" / "config.yaml")
    resumed = run_studio_here(
        ["fit", "--config", config, "--ckpt_path", "last", "--trainer.max_steps", "3"], tmp_path, env
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
