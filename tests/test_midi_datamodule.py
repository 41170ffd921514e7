"""MidiDataModule: split by file, window/target alignment, augmentation ranges, skipped files, the cache, presets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
import yaml
from midi_songs import write_song

from datamodules.midi import MidiDataModule
from datamodules.midi_windows import window_starts
from studio.codecs.midi import MidiCodec
from studio.errors import StudioError
from studio.models import RecurrentLanguageModel

ROOT = Path(__file__).resolve().parents[1]
CODEC = MidiCodec()
LAYOUT = CODEC.layout


@pytest.fixture
def songs(tmp_path: Path) -> Path:
    """Ten songs; two use the extreme ends of the keyboard so transposition must be clamped."""
    folder = tmp_path / "songs"
    for i in range(8):
        write_song(folder / f"song{i}.mid", seed=i)
    write_song(folder / "high.mid", seed=20, low=120, high=128)
    write_song(folder / "low.mid", seed=21, low=0, high=8)
    return folder


def _module(folder: Path, tmp_path: Path, **kwargs) -> MidiDataModule:
    args = dict(
        paths=str(folder), window=32, stride=16, batch_size=4, val_fraction=0.3, cache_dir=str(tmp_path / "cache")
    )
    return MidiDataModule(**{**args, **kwargs})


def test_split_is_by_file_deterministic_and_seeded(songs: Path, tmp_path: Path) -> None:
    dm = _module(songs, tmp_path)
    train, val = set(dm.split_files("train")), set(dm.split_files("val"))
    assert len(val) == 3 and len(train) == 7
    assert not train & val and train | val == set(p.resolve() for p in songs.glob("*.mid"))
    again = _module(songs, tmp_path)
    assert set(again.split_files("val")) == val
    assert set(_module(songs, tmp_path, seed=1).split_files("val")) != val
    # Each split's windows are cut from a stream that joins that split's pieces (BOS ... EOS) and nothing else.
    dm.setup("fit")
    encoded = dict(dm.encoded().items)
    datasets = {"train": dm.train_dataloader().dataset, "val": dm.val_dataloader().dataset}
    for split, files in (("train", train), ("val", val)):
        assert dm.split_files(split) == sorted(files)
        pieces = [encoded[path].tolist() for path in dm.split_files(split)]
        expected = [t for ids in pieces for t in (CODEC.bos_id, *ids, CODEC.eos_id)]
        (stream,) = datasets[split].pieces
        assert stream.tolist() == expected
    assert datasets["val"].transpose == 0 and datasets["val"].stretch is None
    assert datasets["train"].transpose == 3 and datasets["train"].stretch == (0.95, 1.05)


def test_one_usable_file_cannot_be_split(tmp_path: Path) -> None:
    write_song(tmp_path / "only" / "one.mid", seed=0)
    with pytest.raises(StudioError, match="at least 2"):
        _module(tmp_path / "only", tmp_path).setup("fit")


def test_window_starts_cover_each_piece_to_its_end() -> None:
    starts = window_starts([10, 4, 12], window=4, stride=3)  # a numpy array: no Python tuple per window
    assert starts.tolist() == [[0, 0], [0, 3], [0, 5], [2, 0], [2, 3], [2, 6], [2, 7]]
    assert window_starts([5], window=4, stride=4).tolist() == [[0, 0]]


def test_windows_are_inputs_and_targets_shifted_by_one(songs: Path, tmp_path: Path) -> None:
    dm = _module(songs, tmp_path, transpose=0, stretch=None)
    dm.setup("fit")
    data = dm.train_dataloader().dataset
    for i in range(len(data)):
        piece, start = data.index[i]
        x, y = data[i]
        assert x.dtype == y.dtype == torch.long and x.shape == y.shape == (32,)
        assert torch.equal(x[1:], y[:-1])
        assert torch.cat([x, y[-1:]]).tolist() == data.pieces[piece][start : start + 33].tolist()
    firsts = [data[i][0][0].item() for i, (_, start) in enumerate(data.index) if start == 0]
    assert firsts and set(firsts) == {CODEC.bos_id}
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == y.shape == (4, 32)


def _notes(ids: list[int]) -> list[int]:
    return [i for i in ids if LAYOUT.note_on_offset <= i < LAYOUT.shift_offset]


def test_transposition_stays_within_k_and_on_the_keyboard(songs: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    dm = _module(songs, tmp_path, transpose=3, stretch=None)
    dm.setup("fit")
    data = dm.train_dataloader().dataset
    shifts = []
    for i in range(len(data)):
        piece, start = data.index[i]
        original = data.pieces[piece][start : start + 33].tolist()
        x, y = data[i]
        got = torch.cat([x, y[-1:]]).tolist()
        notes_before, notes_after = _notes(original), _notes(got)
        # Only NOTE_ON/NOTE_OFF change, all by one shift.
        assert [t for t in got if t not in notes_after] == [t for t in original if t not in notes_before]
        deltas = {a - b for a, b in zip(notes_after, notes_before)}
        assert len(deltas) <= 1
        shift = deltas.pop() if deltas else 0
        assert -3 <= shift <= 3
        pitches = [(t - LAYOUT.note_on_offset) % 128 for t in notes_before]
        assert all(0 <= p + shift <= 127 for p in pitches)
        assert got == CODEC.transpose(original, shift)
        shifts.append(shift)
    assert min(shifts) == -3 and max(shifts) == 3  # the full range is used where it fits


def _timed_events(ids: list[int]) -> tuple[list[int], list[int]]:
    """Non-shift tokens and the step at which each happens."""
    now, tokens, times = 0, [], []
    for t in ids:
        kind, value = LAYOUT.classify(t)
        if kind == "TIME_SHIFT":
            now += value
        else:
            tokens.append(t)
            times.append(now)
    return tokens, times


def test_stretch_scales_timing_within_range_and_keeps_the_events(songs: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    dm = _module(songs, tmp_path, transpose=0, stretch=(0.9, 1.1))
    dm.setup("fit")
    data = dm.train_dataloader().dataset
    ratios = []
    for i in range(len(data)):
        piece, _ = data.index[i]
        x, y = data[i]
        assert x.shape == (32,) and torch.equal(x[1:], y[:-1])
        tokens, times = _timed_events(torch.cat([x, y[-1:]]).tolist())
        whole_tokens, whole_times = _timed_events(data.pieces[piece].tolist())
        # The same events in the same order, somewhere in the piece.
        j = next(j for j in range(len(whole_tokens)) if whole_tokens[j : j + len(tokens)] == tokens)
        span, original = times[-1] - times[0], whole_times[j + len(tokens) - 1] - whole_times[j]
        if original >= 100:  # long enough that rounding to 10 ms steps is negligible
            ratios.append(span / original)
    assert ratios and min(ratios) >= 0.9 - 0.02 and max(ratios) <= 1.1 + 0.02
    assert max(ratios) - min(ratios) > 0.08  # the factor really varies


def test_unreadable_files_are_skipped_counted_and_named(songs: Path, tmp_path: Path) -> None:
    (songs / "corrupt.mid").write_bytes(np.random.default_rng(0).bytes(300))
    (songs / "empty.mid").write_bytes(b"")
    dm = _module(songs, tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 2 of 12 MIDI files.*corrupt\.mid.*empty\.mid"):
        dm.prepare_data()
    assert sorted(p.name for p in dm.skipped) == ["corrupt.mid", "empty.mid"]
    dm.setup("fit")
    assert len(dm.split_files("train")) + len(dm.split_files("val")) == 10


def test_a_folder_with_no_usable_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.mid").write_bytes(b"MThd garbage")
    (bad / "empty.midi").write_bytes(b"")
    with pytest.raises(StudioError, match="none of the 2 MIDI files could be read") as info:
        _module(bad, tmp_path).setup("fit")
    assert "\n" not in str(info.value)


def test_short_pieces_are_used_across_piece_boundaries(songs: Path, tmp_path: Path) -> None:
    tiny = write_song(songs / "tiny.mid", seed=5, notes=2)
    dm = _module(songs, tmp_path, val_fraction=0.5)
    dm.setup("fit")
    split = "train" if tiny.resolve() in dm.split_files("train") else "val"
    data = (dm.train_dataloader() if split == "train" else dm.val_dataloader()).dataset
    stream = data.pieces[0].tolist()
    ids = [CODEC.bos_id, *CODEC.encode_file(tiny), CODEC.eos_id]
    assert len(ids) < 33 and any(stream[i : i + len(ids)] == ids for i in range(len(stream)))
    assert all(len(data[i][0]) == 32 for i in range(len(data)))
    with pytest.raises(StudioError, match="lower --data.init_args.window"):
        _module(songs, tmp_path, window=100000).setup("fit")


def test_default_corpus_is_cached_so_a_second_setup_parses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = MidiDataModule(limit=3, window=64, stride=64, cache_dir=str(tmp_path))
    first.prepare_data()
    first.setup("fit")
    import music21.converter

    def refuse(*args, **kwargs):
        raise AssertionError("parsed a file although its events were cached")

    monkeypatch.setattr(pretty_midi, "PrettyMIDI", refuse)
    monkeypatch.setattr(music21.converter, "parse", refuse)
    second = MidiDataModule(limit=3, window=64, stride=64, cache_dir=str(tmp_path))
    second.prepare_data()
    second.setup("fit")
    assert second.split_files("val") == first.split_files("val")
    assert [p.tolist() for p in second.train_dataloader().dataset.pieces] == [
        p.tolist() for p in first.train_dataloader().dataset.pieces
    ]


def test_init_is_cheap_and_checks_its_arguments(tmp_path: Path) -> None:
    dm = MidiDataModule(paths=str(tmp_path / "not-there"), velocity_bins=16)
    assert dm.model_dims() == {
        "vocab_size": MidiCodec(velocity_bins=16).vocab_size,
        "stateful": False,
    }  # no file was read
    for bad in (dict(window=1), dict(val_fraction=0.0), dict(transpose=-1), dict(stretch=(1.1, 0.9)), dict(limit=1)):
        with pytest.raises(StudioError):
            MidiDataModule(**bad)


@pytest.mark.parametrize("preset", ["quickstart", "performance-lstm"])
def test_presets_build_their_data_module_and_model(preset: str) -> None:
    config = yaml.safe_load((ROOT / "configs" / "midi" / f"{preset}.yaml").read_text())
    assert config["data"]["class_path"] == "datamodules.midi.MidiDataModule"
    dm = MidiDataModule(**config["data"]["init_args"])
    model = RecurrentLanguageModel(**config["model"]["init_args"], **dm.model_dims())
    assert model.hparams.stateful is False  # MIDI windows are independent
    assert config["trainer"]["gradient_clip_val"] == 3.0
    if preset == "performance-lstm":
        assert (model.hparams.num_layers, model.hparams.hidden_size, dm.window) == (3, 512, 512)
        assert config["trainer"]["precision"] == "bf16-mixed" and model.hparams.weight_decay == 0.0
