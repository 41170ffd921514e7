"""Training data of several instruments: the data module's `instruments` setting, its store, drum-safe
augmentation, the chorales as an ensemble (an instrument per voice), and a tiny `studio fit` on them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from conftest import TINY_MIDI_FIT, run_studio_here

from datamodules.midi import MidiDataModule
from datamodules.midi_sources import music21_corpus_files
from datamodules.midi_windows import MidiWindows
from studio.codecs import codec_from_dict
from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.errors import StudioError

VOICES = {73, 71, 60, 42}  # Flute, Clarinet, Horn, Cello: soprano, alto, tenor, bass


def _band(path: Path, seed: int, programs: tuple[int, ...] = (0, 33), drums: bool = True) -> Path:
    """A short piece: a part per program and a drum kit, each with notes all through."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI()
    parts = [(p, False) for p in programs] + ([(0, True)] if drums else [])
    for program, is_drum in parts:
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
        t = 0.0
        for _ in range(30):
            pitch = int(rng.choice([36, 38, 42])) if is_drum else int(rng.integers(48, 72))
            instrument.notes.append(pretty_midi.Note(80, pitch, t, t + 0.2))
            t += float(rng.uniform(0.1, 0.4))
        pm.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path


def _module(folder: Path, tmp_path: Path, **kwargs) -> MidiDataModule:
    args = dict(
        paths=str(folder), window=32, stride=16, batch_size=4, val_fraction=0.3, cache_dir=str(tmp_path / "cache")
    )
    return MidiDataModule(**{**args, **kwargs})


@pytest.fixture
def bands(tmp_path: Path) -> Path:
    folder = tmp_path / "bands"
    for i in range(6):
        _band(folder / f"band{i}.mid", seed=i)
    return folder


def test_one_setting_gives_the_multitrack_codec_its_vocabulary_and_its_own_store(bands: Path, tmp_path: Path) -> None:
    piano, band = _module(bands, tmp_path), _module(bands, tmp_path, instruments=True)
    folded = _module(bands, tmp_path, instruments=True, programs="family", max_tracks=4)
    assert isinstance(piano.codec, MidiCodec) and piano.model_dims() == {"vocab_size": 391, "stateful": False}
    assert band.codec == MultitrackCodec() and band.model_dims() == {"vocab_size": 520, "stateful": False}
    assert folded.codec == MultitrackCodec(programs="family", max_tracks=4)
    assert folded.model_dims()["vocab_size"] == 408
    assert codec_from_dict(band.codec.to_dict()) == band.codec  # what the checkpoint carries
    # Same files, three codecs: three stores, none read as another's.
    folders = {dm.encoded().folder for dm in (piano, band, folded)}
    assert len(folders) == 3
    codec = band.codec
    for path, ids in band.encoded().items:
        assert ids.tolist() == codec.encode_file(path)
        assert set(codec.decode_notes(ids)) == {Track(0, False), Track(33, False), Track(0, True)}
    assert all(int(ids.max()) < 391 for _, ids in piano.encoded().items)  # the piano store has no instrument ids
    piano_again = _module(bands, tmp_path)
    assert not piano_again.encoded().built and piano_again.encoded().folder == piano.encoded().folder


def test_settings_of_several_instruments_need_the_switch(bands: Path, tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="instruments true"):
        _module(bands, tmp_path, programs="family")
    with pytest.raises(StudioError, match="instruments true"):
        _module(bands, tmp_path, max_tracks=4)
    with pytest.raises(StudioError, match="controls"):
        _module(bands, tmp_path, instruments=True, controls=["density"])
    with pytest.raises(StudioError, match="programs"):
        _module(bands, tmp_path, instruments=True, programs="some")


def test_a_piece_with_more_instruments_than_max_tracks_is_skipped_and_named(bands: Path, tmp_path: Path) -> None:
    _band(bands / "crowd.mid", seed=9, programs=(0, 24, 33, 40, 56))
    dm = _module(bands, tmp_path, instruments=True, max_tracks=4)
    with pytest.warns(UserWarning, match="crowd.mid"):
        store = dm.encoded()
    assert [p.name for p in store.skipped] == ["crowd.mid"] and "max_tracks" in store.reasons[store.skipped[0]]


def test_transposition_and_stretching_never_move_drums() -> None:
    """Windows start anywhere, among the drums too (their DRUMS id behind them): kit notes stay, the bass moves."""
    codec = MultitrackCodec()
    layout = codec.layout
    drums, bass = codec.instrument_id(0, is_drum=True), codec.instrument_id(33)
    beat = [layout.note_on(36), layout.note_on(42), layout.shift_offset + 9, layout.note_off(36), layout.note_off(42)]
    bassline = [bass, layout.note_on(50), layout.shift_offset + 9, layout.note_off(50)]
    stream = np.asarray(
        [codec.bos_id, drums, *beat * 6, *bassline, drums, *beat * 6, *bassline, codec.eos_id], dtype=np.int64
    )
    torch.manual_seed(0)
    bass_pitches: set[int] = set()
    for stretch in (None, (0.8, 1.2)):
        windows = MidiWindows([stream], codec, window=8, stride=1, transpose=5, stretch=stretch)
        for i in range(len(windows)):
            for _ in range(5):
                inputs, targets = windows[i]
                pitches = [(t - layout.note_on_offset) % 128 for t in [*inputs.tolist(), targets[-1].item()]
                           if layout.note_on_offset <= t < layout.shift_offset]  # fmt: skip
                # A moved kit note would land on 31..47 (|shift| <= 5) off the kit's 36 and 42; the bass on 45..55.
                assert all(p in (36, 42) or 45 <= p <= 55 for p in pitches), pitches
                bass_pitches |= {p for p in pitches if p >= 45}
    assert len(bass_pitches) > 3  # the bass's notes were transposed


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The first four chorales converted with an instrument per voice (music21, offline)."""
    return music21_corpus_files("bach_chorales_ensemble", limit=4, folder=tmp_path_factory.mktemp("music21"))


@pytest.mark.parametrize("programs", ["all", "family"])
def test_the_chorales_as_an_ensemble_keep_four_instruments(ensemble: list[Path], programs: str) -> None:
    assert [p.name for p in ensemble] == ["bwv1.6.mid", "bwv10.7.mid", "bwv101.7.mid", "bwv102.7.mid"]
    codec = MultitrackCodec(programs=programs)
    for path in ensemble:
        assert {int(i.program) for i in load_midi(path).instruments} >= VOICES, path.name
        decoded = codec.decode(codec.encode_file(path))
        got = {int(i.program) for i in decoded.instruments}
        expected = VOICES if programs == "all" else {codec.track(codec.slot(p)).program for p in VOICES}
        assert expected <= got and len(expected) == 4, path.name  # four voices, four instruments, folded or not
        by_program = {int(i.program): i for i in decoded.instruments}
        bass, soprano = (by_program[codec.track(codec.slot(p)).program] for p in (42, 73))
        assert np.mean([n.pitch for n in bass.notes]) < np.mean([n.pitch for n in soprano.notes])  # voices kept apart


@pytest.mark.slow
def test_fit_on_the_ensemble_writes_a_multitrack_checkpoint(tmp_path: Path) -> None:
    env = dict(os.environ, STUDIO_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1", WANDB_MODE="offline")
    env.pop("WANDB_API_KEY", None)
    args = [
        *TINY_MIDI_FIT,
        *["--data.init_args.corpus", "bach_chorales_ensemble", "--data.init_args.instruments", "true"],
        *["--data.init_args.programs", "family", "--data.init_args.limit", "4"],
        *["--data.init_args.batch_size", "8", "--trainer.max_steps", "3", "--trainer.logger", "false"],
        *["--trainer.enable_progress_bar", "false", "--run_name", "band"],
    ]
    result = run_studio_here(args, tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = torch.load(tmp_path / "checkpoints" / "band" / "last.ckpt", weights_only=True)
    studio = checkpoint["studio"]
    assert studio["task"] == "midi"
    assert studio["codec"] == MultitrackCodec(programs="family").to_dict()
    assert checkpoint["hyper_parameters"]["vocab_size"] == 408
    assert (
        checkpoint["state_dict"]["head.weight"].shape[0] == checkpoint["state_dict"]["embedding.weight"].shape[0] == 408
    )
