"""MidiCodec: vocabulary, plain-data round trip, encode/decode fidelity, robustness, augmentation, file errors."""

from __future__ import annotations

import io
import os

import numpy as np
import pretty_midi
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.codecs.midi import MidiCodec
from studio.errors import StudioError

STEP = 0.01


def _pm(notes, pedal=(), drums=()) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI with one piano (notes: (pitch, start, end, velocity)), optional pedal and drum notes."""
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(v, p, s, e) for p, s, e, v in notes]
    piano.control_changes = [pretty_midi.ControlChange(64, value, t) for t, value in pedal]
    pm.instruments.append(piano)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes = [pretty_midi.Note(v, p, s, e) for p, s, e, v in drums]
        pm.instruments.append(kit)
    return pm


def _random_performance(seed: int) -> pretty_midi.PrettyMIDI:
    """Two melodic instruments (disjoint registers), a drum kit, sustain pedal, and silences longer than 1 s."""
    rng = np.random.default_rng(seed)
    pm = pretty_midi.PrettyMIDI()
    for program, (low, high) in ((0, (36, 72)), (40, (72, 100))):
        inst = pretty_midi.Instrument(program=program)
        free_at: dict[int, float] = {}  # same-pitch notes never overlap in a real performance
        t = 0.0
        for _ in range(40):
            t += float(rng.choice([rng.uniform(0.0, 0.3), rng.uniform(1.2, 3.5)], p=[0.85, 0.15]))
            pitch = int(rng.integers(low, high))
            if t < free_at.get(pitch, 0.0) + 0.05:
                continue
            end = t + float(rng.uniform(0.03, 1.5))
            inst.notes.append(pretty_midi.Note(int(rng.integers(1, 128)), pitch, t, end))
            free_at[pitch] = end
        pedal_t = 0.0
        while pedal_t < t:
            down = pedal_t + float(rng.uniform(0.2, 2.0))
            up = down + float(rng.uniform(0.3, 2.5))
            inst.control_changes += [
                pretty_midi.ControlChange(64, int(rng.integers(64, 128)), down),
                pretty_midi.ControlChange(64, int(rng.integers(0, 64)), up),
            ]
            pedal_t = up
        pm.instruments.append(inst)
    kit = pretty_midi.Instrument(program=0, is_drum=True)
    kit.notes = [pretty_midi.Note(100, 38, s, s + 0.1) for s in np.arange(0.0, 10.0, 0.5)]
    pm.instruments.append(kit)
    return pm


def _expected_notes(pm: pretty_midi.PrettyMIDI) -> list[tuple[int, float, float, int]]:
    """Reference sustain semantics, written independently and naively: (pitch, start, end, velocity)."""
    song_end = pm.get_end_time()
    out = []
    for inst in pm.instruments:
        if inst.is_drum:
            continue
        ccs = sorted((c.time, c.value) for c in inst.control_changes if c.number == 64)
        for note in inst.notes:
            before = [v for t, v in ccs if t <= note.end]
            end = note.end
            if before and before[-1] >= 64:
                release = next((t for t, v in ccs if t > note.end and v < 64), song_end)
                restrikes = [n.start for n in inst.notes if n.pitch == note.pitch and n.start > note.start]
                end = max(end, min([release, *restrikes]))
            out.append((note.pitch, note.start, end, note.velocity))
    return out


def _by_pitch(notes):
    return sorted(notes, key=lambda n: (n[0], n[1]))


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_keeps_every_note_within_one_step(seed: int) -> None:
    codec = MidiCodec()
    pm = _random_performance(seed)
    ids = codec.encode(pm)
    decoded = codec.decode(ids)
    assert len(decoded.instruments) == 1 and decoded.instruments[0].program == 0
    got = _by_pitch([(n.pitch, n.start, n.end, n.velocity) for n in decoded.instruments[0].notes])
    want = _by_pitch(_expected_notes(pm))
    assert len(got) == len(want)
    bin_of = codec.layout.velocity_bin
    for (gp, gs, ge, gv), (wp, ws, we, wv) in zip(got, want):
        assert gp == wp
        assert bin_of(gv) == bin_of(wv)
        assert abs(gs - ws) <= STEP + 1e-9
        assert abs(ge - we) <= STEP + 1e-9
    # The performances contain silences longer than the longest single shift.
    assert any(b - a > 1.0 for a, b in zip(sorted(n[1] for n in want), sorted(n[1] for n in want)[1:]))


def test_round_trip_survives_a_midi_file(tmp_path) -> None:
    codec = MidiCodec()
    ids = codec.encode(_random_performance(11))
    path = tmp_path / "out.mid"
    codec.decode(ids).write(str(path))
    assert codec.encode_file(path) == ids


def test_vocabulary_layout_and_config() -> None:
    codec = MidiCodec()
    assert (codec.pad_id, codec.bos_id, codec.eos_id) == (0, 1, 2)
    assert codec.vocab_size == 3 + 128 + 128 + 100 + 32
    custom = MidiCodec(resolution_ms=20, max_shift_ms=500, velocity_bins=8, keep_drums=True)
    assert custom.vocab_size == 3 + 256 + 25 + 8
    assert custom.event_name(custom.vocab_size - 1) == "VELOCITY(7)"
    assert {codec.event_name(i) for i in range(codec.vocab_size)}.isdisjoint({"UNKNOWN"})
    with pytest.raises(StudioError, match="resolution_ms"):
        MidiCodec(resolution_ms=0)


def test_to_dict_is_plain_data_and_survives_weights_only_load(tmp_path) -> None:
    codec = MidiCodec(resolution_ms=8, max_shift_ms=800, velocity_bins=16, keep_drums=True)
    d = codec.to_dict()
    assert d["kind"] == "midi"
    assert all(isinstance(v, (str, int, float, bool)) for v in d.values())
    torch.save({"codec": d}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)["codec"]
    again = MidiCodec.from_dict(loaded)
    assert again == codec and again.vocab_size == codec.vocab_size
    with pytest.raises(StudioError):
        MidiCodec.from_dict({"kind": "text"})


def test_event_names() -> None:
    codec = MidiCodec()
    names = [codec.event_name(i) for i in (0, 1, 2, 3 + 60, 131 + 60, 259 + 24, 259 + 99, 359 + 12, 999)]
    assert names == [
        "PAD",
        "BOS",
        "EOS",
        "NOTE_ON(60)",
        "NOTE_OFF(60)",
        "TIME_SHIFT(250ms)",
        "TIME_SHIFT(1000ms)",
        "VELOCITY(12)",
        "UNKNOWN(999)",
    ]


def test_encode_emits_velocity_only_on_bin_change_and_splits_long_gaps() -> None:
    codec = MidiCodec()
    # 99 and 100 share a bin; 40 does not. A 2.5 s silence needs three shifts.
    pm = _pm([(60, 0.0, 0.5, 100), (62, 0.5, 1.0, 99), (64, 3.5, 4.0, 40)])
    names = [codec.event_name(i) for i in codec.encode(pm)]
    assert names == [
        "VELOCITY(24)",
        "NOTE_ON(60)",
        "TIME_SHIFT(500ms)",
        "NOTE_OFF(60)",
        "NOTE_ON(62)",
        "TIME_SHIFT(500ms)",
        "NOTE_OFF(62)",
        "TIME_SHIFT(1000ms)",
        "TIME_SHIFT(1000ms)",
        "TIME_SHIFT(500ms)",
        "VELOCITY(9)",
        "NOTE_ON(64)",
        "TIME_SHIFT(500ms)",
        "NOTE_OFF(64)",
    ]
    assert codec.seconds(codec.encode(pm)) == pytest.approx(4.0)
    wrapped = codec.encode(pm, add_bos_eos=True)
    assert wrapped[0] == codec.bos_id and wrapped[-1] == codec.eos_id and wrapped[1:-1] == codec.encode(pm)


def test_sustain_pedal_holds_notes_until_release_or_restrike() -> None:
    codec = MidiCodec()
    pm = _pm(
        [(60, 0.0, 0.5, 80), (64, 0.2, 0.4, 80), (64, 1.0, 1.2, 80), (67, 2.5, 2.6, 80)], pedal=[(0.1, 127), (2.0, 0)]
    )
    notes = {(n.pitch, n.start): n.end for n in codec.decode(codec.encode(pm)).instruments[0].notes}
    assert notes[(60, 0.0)] == pytest.approx(2.0)  # held to pedal release
    assert notes[(64, 0.2)] == pytest.approx(1.0)  # cut by the re-struck key
    assert notes[(64, 1.0)] == pytest.approx(2.0)
    assert notes[(67, 2.5)] == pytest.approx(2.6)  # pedal up: untouched


def test_drums_are_dropped_unless_kept() -> None:
    pm = _pm([(60, 0.0, 0.5, 80)], drums=[(38, 0.0, 0.1, 100), (42, 0.25, 0.3, 100)])
    assert [n.pitch for n in MidiCodec().decode(MidiCodec().encode(pm)).instruments[0].notes] == [60]
    kept = MidiCodec(keep_drums=True)
    assert sorted(n.pitch for n in kept.decode(kept.encode(pm)).instruments[0].notes) == [38, 42, 60]


def test_decode_repairs_malformed_sequences() -> None:
    codec = MidiCodec()
    on, off, shift, vel = (lambda p: 3 + p), (lambda p: 131 + p), (lambda k: 258 + k), (lambda b: 359 + b)
    ids = [
        codec.bos_id,
        off(50),  # stray NOTE_OFF: ignored
        vel(31),
        on(60),
        shift(10),
        on(60),
        shift(10),  # re-strike: ends the first 60 at 0.1 s
        on(62),
        off(62),  # zero length: one step
        codec.pad_id,
        on(64),
        shift(5),  # never closed: closed at the end
        codec.eos_id,
        on(70),
        shift(50),  # after EOS: ignored
    ]
    notes = sorted(
        (n.pitch, round(n.start, 3), round(n.end, 3), n.velocity) for n in codec.decode(ids).instruments[0].notes
    )
    centre = codec.layout.bin_velocity(31)
    assert codec.layout.velocity_bin(centre) == 31
    assert notes == [(60, 0.0, 0.1, centre), (60, 0.1, 0.25, centre), (62, 0.2, 0.21, centre), (64, 0.2, 0.25, centre)]
    assert codec.seconds(ids) == pytest.approx(0.25)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=400), max_size=300))
def test_decode_always_gives_a_valid_midi(ids: list[int]) -> None:
    pm = MidiCodec().decode(ids)
    assert len(pm.instruments) == 1
    assert all(n.end > n.start and 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for n in pm.instruments[0].notes)
    buffer = io.BytesIO()
    pm.write(buffer)
    assert buffer.getvalue().startswith(b"MThd")


def test_transpose_moves_notes_or_refuses() -> None:
    codec = MidiCodec()
    ids = codec.encode(_pm([(60, 0.0, 0.5, 80), (120, 0.5, 1.0, 80)]))
    up = codec.transpose(ids, 7)
    assert sorted(n.pitch for n in codec.decode(up).instruments[0].notes) == [67, 127]
    assert codec.transpose(ids, 8) is None
    assert codec.transpose(ids, -61) is None
    assert codec.transpose(ids, -60) is not None


@pytest.mark.parametrize("factor", [0.5, 1.37, 2.0])
def test_stretch_rescales_time(factor: float) -> None:
    codec = MidiCodec()
    pm = _random_performance(3)
    ids = codec.encode(pm)
    stretched = codec.decode(codec.stretch(ids, factor)).instruments[0].notes
    original = codec.decode(ids).instruments[0].notes
    assert len(stretched) == len(original)
    order = lambda n: (n.pitch, n.start)
    for a, b in zip(sorted(original, key=order), sorted(stretched, key=order)):
        assert a.pitch == b.pitch and a.velocity == b.velocity
        assert abs(b.start - a.start * factor) <= STEP / 2 + 1e-9
        # A note can only grow, to the one-step minimum, when stretching shrinks it below a step.
        assert abs(b.end - a.end * factor) <= STEP + 1e-9
    assert codec.stretch(ids, 1.0) == ids


@pytest.mark.parametrize("content", [b"", os.urandom(200), b"MThd\x00\x00\x00\x06\x00\x01"])
def test_unreadable_files_raise_one_line_studio_error(tmp_path, content: bytes) -> None:
    path = tmp_path / "broken song.mid"
    path.write_bytes(content)
    with pytest.raises(StudioError) as info:
        MidiCodec().encode_file(path)
    message = str(info.value)
    assert "broken song.mid" in message and "\n" not in message


def test_missing_file_raises_studio_error(tmp_path) -> None:
    with pytest.raises(StudioError, match="does not exist"):
        MidiCodec().encode_file(tmp_path / "nope.mid")
