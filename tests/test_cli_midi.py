"""End to end through the real `studio` command on MIDI: fit on a few chorales, sample, W&B media, bad inputs."""

from __future__ import annotations

import os
from pathlib import Path

import conftest
import pretty_midi
import pytest
import torch
from conftest import ROOT, run_studio, run_studio_here
from wandb_records import summary

pytestmark = pytest.mark.slow

# A tiny model on 4 chorales: enough to exercise every stage in seconds, not to make music.
TINY_MIDI_FIT = [
    *conftest.TINY_MIDI_FIT,
    *["--data.init_args.limit", "4", "--data.init_args.batch_size", "8"],
    *["--trainer.enable_progress_bar", "false", "--trainer.max_steps", "6"],
]
MEDIA_LOGGER = [
    "--trainer.callbacks+=studio.training.midi_samples.MidiSampleLogger",
    "--trainer.callbacks.every_n_steps=3",
    "--trainer.callbacks.seconds=2",
]


@pytest.fixture(scope="module")
def trained_midi(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One tiny MIDI training run with W&B offline and audio/piano-roll logging, shared by the tests here."""
    work = tmp_path_factory.mktemp("midi-run")
    env = dict(
        os.environ, STUDIO_CACHE=str(work / "cache"), WANDB_MODE="offline", WANDB_SILENT="true", OMP_NUM_THREADS="1"
    )
    env.pop("WANDB_API_KEY", None)
    # A process of its own: it logs to W&B (the other runs here are in-process and log nowhere).
    result = run_studio([*TINY_MIDI_FIT, "--run_name", "tiny", *MEDIA_LOGGER], work, env)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"work": work, "env": env, "ckpt": work / "checkpoints" / "tiny" / "last.ckpt"}


def _sample(run: dict, *args: str) -> list[Path]:
    result = run_studio_here(["sample", "--ckpt", str(run["ckpt"]), *args], run["work"], run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stdout.splitlines() if ".mid" in line]
    return [run["work"] / line.split()[0] for line in lines]


def _one_line_error(result, *needles: str) -> str:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("studio: error: "), last
    for needle in needles:
        assert needle in last, last
    return last


def test_fit_writes_a_midi_checkpoint_and_logs_audio_and_piano_rolls(trained_midi: dict) -> None:
    checkpoint = torch.load(trained_midi["ckpt"], weights_only=True)
    assert checkpoint["studio"]["codec"] == {
        "kind": "midi",
        "resolution_ms": 10,
        "max_shift_ms": 1000,
        "velocity_bins": 32,
        "keep_drums": False,
    }
    assert checkpoint["hyper_parameters"]["vocab_size"] == 391
    files = list((trained_midi["work"] / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 1
    logged = summary(files[0])
    assert "val_loss" in logged["history"]
    assert {"samples/audio/captions", "samples/piano_roll/captions"} <= logged["history"]  # W&B audio and image records
    assert {"samples/polyphony", "samples/scale_consistency", "samples/pitch_class_entropy"} <= logged["history"]
    media = list((files[0].parent / "files" / "media").rglob("*"))
    assert sum(p.suffix == ".wav" for p in media) == 4 and sum(p.suffix == ".png" for p in media) == 4  # steps 3 and 6


def test_quickstart_preset_runs_without_a_logger(tmp_path: Path, trained_midi: dict) -> None:
    # The preset itself, cut to a few chorales and steps; the music21 conversions of the shared run are reused.
    result = run_studio_here(
        [
            "fit",
            "--config",
            str(ROOT / "configs/midi/quickstart.yaml"),
            "--trainer.logger",
            "false",
            "--data.init_args.limit",
            "4",
            "--data.init_args.window",
            "64",
            "--data.init_args.batch_size",
            "4",
            "--model.init_args.hidden_size",
            "32",
            "--trainer.max_steps",
            "2",
            "--trainer.max_time",
            "null",
            "--trainer.enable_progress_bar",
            "false",
            "--run_name",
            "quiet",
        ],
        tmp_path,
        trained_midi["env"],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "checkpoints/quiet/last.ckpt").exists() and not (tmp_path / "wandb").exists()


def test_sample_writes_playable_capped_pieces_of_the_asked_length_reproducibly(trained_midi: dict) -> None:
    args = ["--seconds", "5", "--num_samples", "2", "--seed", "3", "--max_note_seconds", "2"]
    mids = _sample(trained_midi, *args)
    assert len(mids) == 2
    for mid in mids:
        pm = pretty_midi.PrettyMIDI(str(mid))
        notes = [n for inst in pm.instruments for n in inst.notes]
        assert notes, mid
        assert abs(pm.get_end_time() - 5.0) <= 0.5
        assert max(n.end - n.start for n in notes) <= 2.0 + 0.005  # one MIDI tick (1/440 s) of rounding
        assert mid.with_suffix(".wav").stat().st_size > 1000 and mid.with_suffix(".png").stat().st_size > 1000
    assert (mids[0].parent / "settings.json").exists()
    again = _sample(trained_midi, *args, "--no_render")
    assert again[0].parent != mids[0].parent  # a fresh folder: nothing overwritten
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in mids]
    assert not list(again[0].parent.glob("*.wav"))


def test_beam_search_writes_valid_pieces_of_the_asked_length(trained_midi: dict) -> None:
    args = ["--seconds", "4", "--num_samples", "2", "--seed", "2", "--no_render", "--max_note_seconds", "2"]
    beamed = _sample(trained_midi, *args, "--beam_size", "2", "--branch_factor", "3", "--steps_per_iteration", "8")
    plain = _sample(trained_midi, *args)
    assert len(beamed) == 2
    for mid in beamed:
        pm = pretty_midi.PrettyMIDI(str(mid))
        notes = [n for inst in pm.instruments for n in inst.notes]
        assert notes and abs(pm.get_end_time() - 4.0) <= 0.4 and max(n.end - n.start for n in notes) <= 2.005
    assert [p.read_bytes() for p in beamed] != [p.read_bytes() for p in plain]
    assert (
        _sample(trained_midi, *args, "--beam_size", "2", "--branch_factor", "3", "--steps_per_iteration", "8")[
            0
        ].read_bytes()
        == beamed[0].read_bytes()
    )


def test_sample_continues_a_primer(trained_midi: dict) -> None:
    primer = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate([60, 64, 67, 72]):
        piano.notes.append(pretty_midi.Note(80, pitch, 0.5 * i, 0.5 * i + 0.45))
    primer.instruments.append(piano)
    path = trained_midi["work"] / "intro.mid"
    primer.write(str(path))
    (mid,) = _sample(trained_midi, "--primer", str(path), "--seconds", "4", "--seed", "1", "--no_render")
    pm = pretty_midi.PrettyMIDI(str(mid))
    notes = sorted((n.start, n.pitch, n.end) for inst in pm.instruments for n in inst.notes)
    opening = [(round(s, 2), p, round(e, 2)) for s, p, e in notes if s < 1.95]
    assert opening == [(0.0, 60, 0.45), (0.5, 64, 0.95), (1.0, 67, 1.45), (1.5, 72, 1.95)]
    assert abs(pm.get_end_time() - 4.0) <= 0.4


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--seconds", "0"], ["--seconds 0"]),
        (["--primer", "NOTES"], ["--primer", "notes.txt", "Standard MIDI File"]),
        (["--prompt", "The "], ["midi checkpoint", "--primer"]),
        (["--notes_per_second", "4"], ["last.ckpt", "without the note-density control", "controls"]),
        (["--pitch_class_histogram", "1,2,3"], ["--pitch_class_histogram", "12"]),
        (["--beam_size", "0"], ["--beam_size 0", ">= 1"]),
    ],
    ids=["seconds-zero", "primer-not-midi", "text-prompt", "density-unconditioned", "histogram-short", "beam-zero"],
)
def test_bad_sample_arguments(trained_midi: dict, args: list[str], needles: list[str]) -> None:
    work = trained_midi["work"]
    (work / "notes.txt").write_text("this is not a MIDI file")
    args = [str(work / "notes.txt") if a == "NOTES" else a for a in args]
    before = sorted((work / "samples").rglob("*")) if (work / "samples").exists() else []
    result = run_studio_here(["sample", "--ckpt", str(trained_midi["ckpt"]), *args], work, trained_midi["env"])
    _one_line_error(result, *needles)
    assert (sorted((work / "samples").rglob("*")) if (work / "samples").exists() else []) == before


def test_fit_on_a_folder_with_no_usable_midi_is_one_line(tmp_path: Path, trained_midi: dict) -> None:
    bad = tmp_path / "my_midis"
    bad.mkdir()
    (bad / "corrupt.mid").write_bytes(b"MThd this is not really MIDI")
    (bad / "empty.mid").write_bytes(b"")
    result = run_studio_here(
        [*TINY_MIDI_FIT, "--data.init_args.paths", str(bad), "--trainer.logger", "false"], tmp_path, trained_midi["env"]
    )
    _one_line_error(result, "none of the 2 MIDI files could be read", "corrupt.mid")
    assert not list(tmp_path.rglob("*.ckpt"))


def test_a_model_trained_with_controls_is_steered_by_them(tmp_path: Path, trained_midi: dict) -> None:
    fit = run_studio_here(
        [
            *TINY_MIDI_FIT,
            "--data.init_args.controls",
            "[density, pitch_histogram]",
            "--trainer.logger",
            "false",
            "--run_name",
            "steered",
        ],
        tmp_path,
        trained_midi["env"],
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    ckpt = tmp_path / "checkpoints/steered/last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)
    assert checkpoint["studio"]["codec"]["controls"] == ["density", "pitch_histogram"]
    assert checkpoint["hyper_parameters"]["control_dim"] == 20
    run = {"ckpt": ckpt, "work": tmp_path, "env": trained_midi["env"]}
    common = ["--seconds", "4", "--num_samples", "2", "--seed", "5", "--no_render"]
    sparse = _sample(run, *common, "--notes_per_second", "1.5", "--pitch_class_histogram", "[2,0,1,0,1,1,0,1,0,1,0,1]")
    dense = _sample(run, *common, "--notes_per_second", "20", "--pitch_class_histogram", "[2,0,1,0,1,1,0,1,0,1,0,1]")
    free = _sample(run, *common)
    assert len(sparse) == len(dense) == len(free) == 2
    assert all(pretty_midi.PrettyMIDI(str(p)).instruments for p in sparse + dense + free)
    # Same seed, other controls: other music (the controls reach the model at every step).
    assert [p.read_bytes() for p in sparse] != [p.read_bytes() for p in dense] != [p.read_bytes() for p in free]
    settings = (sparse[0].parent / "settings.json").read_text()
    assert '"notes_per_second": 1.5' in settings
