"""Performance RNN's controls: per-event note density and pitch-class histogram, in data, model and sampling."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from midi_songs import write_song

from datamodules.midi import MidiDataModule
from datamodules.midi_windows import MidiWindows
from studio.codecs.midi import MidiCodec
from studio.codecs.midi.controls import (
    DENSITY_EDGES,
    DENSITY_WINDOW_S,
    HISTOGRAM_PRIOR,
    HISTOGRAM_WINDOW_S,
    control_vector,
)
from studio.errors import StudioError
from studio.generation.midi import sample_pieces
from studio.generation.sampling import SamplingSettings
from studio.models import RecurrentLanguageModel

CODEC = MidiCodec(controls=("density", "pitch_histogram"))
LAYOUT = CODEC.layout
STEPS_PER_SECOND = round(1 / CODEC.step_seconds)


def _reference_frames(ids: list[int]) -> np.ndarray:
    """The controls by brute force: for each event, loop over the onsets of its own piece."""
    time, piece, onsets, stamps = 0, 0, [], []
    for token in ids:
        kind, value = LAYOUT.classify(token)
        if kind == "BOS":
            piece, time = piece + 1, 0
        stamps.append((piece, time))
        if kind == "NOTE_ON":
            onsets.append((piece, time, value % 12))
        if kind == "TIME_SHIFT":
            time += value
    rows = []
    for piece, now in stamps:
        dense = [1 for p, t, _ in onsets if p == piece and now <= t < now + DENSITY_WINDOW_S * STEPS_PER_SECOND]
        one_hot = np.zeros(len(DENSITY_EDGES) + 1)
        one_hot[sum(len(dense) / DENSITY_WINDOW_S >= edge for edge in DENSITY_EDGES)] = 1
        histogram = np.full(12, HISTOGRAM_PRIOR)
        for p, t, pitch_class in onsets:
            if p == piece and now <= t < now + HISTOGRAM_WINDOW_S * STEPS_PER_SECOND:
                histogram[pitch_class] += 1
        rows.append(np.concatenate([one_hot, histogram / histogram.sum()]))
    return np.array(rows)


def _random_pieces(seed: int, pieces: int = 3) -> list[int]:
    rng = np.random.default_rng(seed)
    ids: list[int] = []
    for _ in range(pieces):
        ids.append(LAYOUT.bos_id)
        for _ in range(rng.integers(20, 120)):
            if rng.random() < 0.5:
                ids.append(LAYOUT.note_on(int(rng.integers(0, 128))))
            else:
                ids.append(LAYOUT.shift(int(rng.integers(1, LAYOUT.num_shifts + 1))))
        ids.append(LAYOUT.eos_id)
    return ids


@pytest.mark.parametrize("seed", range(5))
def test_frames_match_a_brute_force_count_within_each_piece(seed: int) -> None:
    ids = _random_pieces(seed)
    np.testing.assert_allclose(CODEC.control_frames(ids), _reference_frames(ids), rtol=1e-6, atol=1e-7)


def test_a_hand_counted_example() -> None:
    # Onsets at 0 s (C), 1 s (E), 2 s (G), 3.5 s (C): from 0 s, three notes in 3 s -> 1 note/s, bin [1, 2).
    second = LAYOUT.shift(100)
    ids = [
        LAYOUT.note_on(60),
        second,
        LAYOUT.note_on(64),
        second,
        LAYOUT.note_on(67),
        second,
        LAYOUT.shift(50),
        LAYOUT.note_on(72),
    ]
    frames = CODEC.control_frames(ids)
    assert frames[0, :8].argmax() == 1
    assert frames[6, :8].argmax() == 0  # from 3 s on: one note in 3 s
    histogram = frames[0, 8:]
    assert histogram[0] > histogram[4] == histogram[7] > histogram[1]  # two Cs, one E, one G, no C#
    assert histogram.sum() == pytest.approx(1.0)


def test_the_codec_carries_its_controls_but_the_event_cache_key_does_not() -> None:
    assert MidiCodec.from_dict(CODEC.to_dict()) == CODEC and CODEC.control_dim == 20
    assert "controls" not in MidiCodec().to_dict()  # codecs without controls describe themselves as before
    assert CODEC.events_dict() == MidiCodec().to_dict()
    assert MidiCodec(controls=("pitch_histogram", "density")).controls == ("density", "pitch_histogram")
    with pytest.raises(StudioError, match="controls"):
        MidiCodec(controls=("tempo",))


def test_control_vector_from_user_values() -> None:
    vector = control_vector(
        CODEC.controls, notes_per_second=6, pitch_class_histogram=[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]
    )
    assert vector[:8].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]  # 6 notes/s lies in [4, 8)
    assert vector[8:].sum() == pytest.approx(1.0) and vector[8] == pytest.approx(2 / 8)
    assert not control_vector(CODEC.controls).any()  # nothing asked: no control
    for bad in (
        {"notes_per_second": 0},
        {"pitch_class_histogram": [1] * 11},
        {"pitch_class_histogram": [0] * 12},
        {"pitch_class_histogram": [-1] + [1] * 11},
    ):
        with pytest.raises(StudioError):
            control_vector(CODEC.controls, **bad)
    with pytest.raises(StudioError, match="trained without the note-density control"):
        control_vector(("pitch_histogram",), notes_per_second=4)


@pytest.fixture
def songs(tmp_path: Path) -> Path:
    folder = tmp_path / "songs"
    for i in range(6):
        write_song(folder / f"song{i}.mid", seed=i)
    return folder


def _module(folder: Path, tmp_path: Path, **kwargs) -> MidiDataModule:
    args = dict(
        paths=str(folder),
        window=32,
        stride=16,
        batch_size=4,
        val_fraction=0.3,
        cache_dir=str(tmp_path / "cache"),
        controls=["density", "pitch_histogram"],
    )
    return MidiDataModule(**{**args, **kwargs})


def test_windows_carry_the_controls_of_their_targets_seen_from_the_whole_stream(songs: Path, tmp_path: Path) -> None:
    dm = _module(songs, tmp_path, transpose=0, stretch=None, control_dropout=0.0)
    assert dm.model_dims() == {"vocab_size": CODEC.vocab_size, "control_dim": 20, "stateful": False}
    dm.setup("fit")
    windows = dm.train_dataloader().dataset
    (stream,) = windows.pieces
    everything = CODEC.control_frames(stream)
    for i in range(len(windows)):
        _, start = windows.index[i]
        inputs, _, controls = windows[i]
        assert inputs.tolist() == stream[start : start + 32].tolist()
        np.testing.assert_allclose(controls.numpy(), everything[start + 1 : start + 33], rtol=1e-6, atol=1e-7)


def test_transposed_windows_carry_rotated_histograms(songs: Path, tmp_path: Path) -> None:
    dm = _module(songs, tmp_path, transpose=5, stretch=None, control_dropout=0.0)
    dm.setup("fit")
    train = dm.train_dataloader().dataset
    plain = MidiWindows(train.pieces, dm.codec, 32, 16)
    torch.manual_seed(0)
    shifted_some = False
    for i in range(len(plain)):
        inputs, _, controls = train[i]
        original, _, base = plain[i]
        notes = (original >= LAYOUT.note_on_offset) & (original < LAYOUT.shift_offset)
        shift = int((inputs[notes] - original[notes])[0]) if notes.any() else 0
        shifted_some |= shift != 0
        np.testing.assert_allclose(controls[:, 8:].numpy(), np.roll(base[:, 8:].numpy(), shift, axis=1), atol=1e-6)
        assert torch.equal(controls[:, :8], base[:, :8])  # transposition leaves the density alone
    assert shifted_some


def test_training_drops_whole_control_groups_and_validation_never_does(songs: Path, tmp_path: Path) -> None:
    dm = _module(songs, tmp_path, control_dropout=0.5)
    dm.setup("fit")
    train, val = dm.train_dataloader().dataset, dm.val_dataloader().dataset
    torch.manual_seed(0)
    density_kept = [bool(train[i % len(train)][2][:, :8].any()) for i in range(60)]
    assert 10 < sum(density_kept) < 50
    for i in range(len(val)):
        controls = val[i][2]
        assert (controls[:, :8].sum(1) == 1).all() and torch.allclose(controls[:, 8:].sum(1), torch.ones(32))
    with pytest.raises(StudioError, match="control_dropout"):
        _module(songs, tmp_path, control_dropout=1.0)


@pytest.mark.filterwarnings("ignore:You are trying to .self.log")
def test_a_conditioned_model_reads_the_controls_and_trains_on_three_part_batches() -> None:
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=CODEC.vocab_size, embedding_dim=8, hidden_size=16, control_dim=20).eval()
    tokens = torch.randint(3, 100, (2, 10))
    controls = torch.from_numpy(CODEC.control_frames(_random_pieces(0)[:20])).reshape(2, 10, 20)
    with torch.no_grad():
        steered, _ = model(tokens, controls=controls)
        free, _ = model(tokens)
        zeros, _ = model(tokens, controls=torch.zeros(2, 10, 20))
    assert not torch.allclose(steered, free) and torch.equal(free, zeros)
    model.train()
    assert torch.isfinite(model.training_step((tokens, tokens, controls), 0))


def test_sampling_steers_every_step_with_the_given_controls(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=CODEC.vocab_size, embedding_dim=8, hidden_size=16, control_dim=20).eval()
    seen = []
    original = model.forward
    monkeypatch.setattr(
        model,
        "forward",
        lambda tokens, state=None, controls=None: seen.append(controls) or original(tokens, state, controls),
    )
    wanted = control_vector(CODEC.controls, notes_per_second=3)
    pieces = sample_pieces(model, CODEC, 2, SamplingSettings(), seed=1, seconds=2.0, controls=wanted)
    assert pieces and seen and all(c is not None and c.shape[-1] == 20 for c in seen)
    assert all(torch.equal(c[0, 0].cpu(), torch.from_numpy(wanted)) for c in seen)
    again = sample_pieces(model, CODEC, 2, SamplingSettings(), seed=1, seconds=2.0, controls=wanted)
    assert [p.ids for p in again] == [p.ids for p in pieces]


def _trained_on(folder: Path, tmp_path: Path, control: str) -> tuple[RecurrentLanguageModel, MidiDataModule]:
    """A small model trained for a few seconds on `folder` with one control."""
    dm = MidiDataModule(
        paths=str(folder),
        window=48,
        stride=24,
        batch_size=16,
        val_fraction=0.2,
        transpose=0,
        stretch=None,
        cache_dir=str(tmp_path / "cache"),
        controls=[control],
    )
    torch.manual_seed(0)
    model = RecurrentLanguageModel(
        vocab_size=dm.codec.vocab_size,
        embedding_dim=16,
        hidden_size=48,
        num_layers=1,
        control_dim=dm.model_dims()["control_dim"],
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(70):
        for inputs, targets, controls in dm.train_dataloader():
            logits, _ = model(inputs, controls=controls)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), dm


def test_a_model_trained_with_the_pitch_control_follows_it(tmp_path: Path) -> None:
    """Pieces only in C or only in F#: asked for either, a small trained model plays mostly that class (chance: half)."""
    folder = tmp_path / "two-keys"
    for i in range(8):
        write_song(folder / f"c{i}.mid", seed=i, notes=60, pitches=[48, 60, 72])
        write_song(folder / f"fs{i}.mid", seed=50 + i, notes=60, pitches=[54, 66, 78])
    model, dm = _trained_on(folder, tmp_path, "pitch_histogram")
    for pitch_class in (0, 6):
        asked = control_vector(dm.codec.controls, pitch_class_histogram=[float(c == pitch_class) for c in range(12)])
        pieces = sample_pieces(model, dm.codec, 4, SamplingSettings(), seed=0, seconds=6.0, controls=asked)
        classes = [n.pitch % 12 for p in pieces for i in p.midi.instruments for n in i.notes]
        assert len(classes) > 20 and sum(c == pitch_class for c in classes) / len(classes) > 0.7, (pitch_class, classes)


def test_a_model_trained_with_the_density_control_follows_it(tmp_path: Path) -> None:
    """Pieces at about 2 or about 12 notes per second: asked for either, a small trained model keeps them apart."""
    folder = tmp_path / "two-tempi"
    for i in range(8):
        write_song(folder / f"slow{i}.mid", seed=i, notes=30, gaps=(0.45, 0.55))
        write_song(folder / f"fast{i}.mid", seed=50 + i, notes=150, gaps=(0.07, 0.09))
    model, dm = _trained_on(folder, tmp_path, "density")
    rates = {}
    for asked in (2.0, 12.0):
        vector = control_vector(dm.codec.controls, notes_per_second=asked)
        pieces = sample_pieces(model, dm.codec, 16, SamplingSettings(), seed=0, seconds=8.0, controls=vector)
        rates[asked] = statistics.median(p.notes / p.seconds for p in pieces)  # the typical piece
    assert rates[2.0] < 4 and rates[12.0] > 8, rates
