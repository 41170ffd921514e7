"""MultitrackCodec: vocabulary, plain data, round trips per instrument (generated bands and music21 scores).

The reading of files (the program-aware reader, bad input) is tested in test_multitrack_reader.py."""

from __future__ import annotations

import io
from pathlib import Path

import pretty_midi
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multitrack_bands import band

from studio.codecs import codec_from_dict
from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.codecs.midi.programs import REPRESENTATIVES
from studio.errors import StudioError

STEP = 0.01
CHECKS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _notes(codec: MultitrackCodec, ids) -> dict[Track, list[tuple[int, int, int, int]]]:
    """Decoded notes per instrument as (start, end, pitch, velocity bin)."""
    bin_of = codec.layout.velocity_bin
    return {t: [(n.start, n.end, n.pitch, bin_of(n.velocity)) for n in ns] for t, ns in codec.decode_notes(ids).items()}


# --- vocabulary and plain data ----------------------------------------------------------------


def test_vocabulary_sizes_ids_and_names() -> None:
    codec, folded = MultitrackCodec(), MultitrackCodec(programs="family")
    base = MidiCodec()
    assert codec.vocab_size == base.vocab_size + 128 + 1 == 520
    assert folded.vocab_size == base.vocab_size + 16 + 1 == 408
    assert (codec.pad_id, codec.bos_id, codec.eos_id) == (0, 1, 2)
    assert [codec.event_name(i) for i in range(base.vocab_size)] == [base.event_name(i) for i in range(391)]
    assert codec.event_name(codec.instrument_id(40)) == "PROGRAM(40)"
    assert codec.event_name(codec.instrument_id(0, is_drum=True)) == codec.event_name(codec.vocab_size - 1) == "DRUMS"
    assert folded.event_name(folded.instrument_id(42)) == "PROGRAM(40)"  # Cello is played by the Strings' Violin
    assert folded.event_name(folded.instrument_id(72)) == "PROGRAM(73)"  # Piccolo by the Pipe family's Flute
    assert all(REPRESENTATIVES[f] // 8 == f for f in range(16))
    assert "UNKNOWN" not in {codec.event_name(i).split("(")[0] for i in range(codec.vocab_size)}
    assert codec.event_name(codec.vocab_size).startswith("UNKNOWN")


def test_plain_data_round_trip_and_checkpoint_dispatch(tmp_path) -> None:
    codec = MultitrackCodec(resolution_ms=8, max_shift_ms=800, velocity_bins=16, programs="family", max_tracks=5)
    data = codec.to_dict()
    assert data["kind"] == "midi_multitrack"
    torch.save({"codec": data}, tmp_path / "ckpt.pt")
    loaded = torch.load(tmp_path / "ckpt.pt", weights_only=True)["codec"]
    assert codec_from_dict(loaded) == codec == MultitrackCodec.from_dict(loaded)
    assert codec_from_dict(MultitrackCodec().to_dict()).vocab_size == 520
    with pytest.raises(StudioError, match="not 'midi_multitrack'"):
        MultitrackCodec.from_dict({"kind": "midi"})
    with pytest.raises(StudioError, match="unknown MultitrackCodec settings"):
        MultitrackCodec.from_dict({**data, "keep_drums": True})


@pytest.mark.parametrize(
    ("settings_", "match"),
    [
        ({"programs": "gm"}, "programs='gm' is invalid"),
        ({"max_tracks": 0}, "max_tracks=0 is invalid"),
        ({"max_tracks": True}, "max_tracks=True is invalid"),
        ({"resolution_ms": 0}, "MultitrackCodec resolution_ms=0 is invalid"),
        ({"velocity_bins": 200}, "MultitrackCodec velocity_bins=200"),
    ],
)
def test_bad_settings_are_one_line_errors(settings_, match) -> None:
    with pytest.raises(StudioError, match=match) as info:
        MultitrackCodec(**settings_)
    assert "\n" not in str(info.value)


# --- encoding rules ---------------------------------------------------------------------------


def test_solo_piano_gives_midi_codecs_ids() -> None:
    pm = band([(0, False, [(60, 0.0, 0.5, 80), (64, 0.25, 2.5, 30), (60, 0.5, 1.0, 100)], [(0.1, 100), (1.5, 0)])])
    assert MultitrackCodec().encode(pm, add_bos_eos=True) == MidiCodec().encode(pm, add_bos_eos=True)


def test_instrument_tokens_only_when_the_instrument_changes() -> None:
    codec = MultitrackCodec()
    pm = band(
        [
            (40, False, [(76, 0.0, 0.5, 80), (77, 0.5, 1.0, 80)], []),
            (0, False, [(48, 0.0, 1.0, 80)], []),
            (0, True, [(36, 0.5, 0.6, 80), (38, 1.0, 1.1, 80)], []),
        ]
    )
    names = [codec.event_name(i) for i in codec.encode(pm)]
    assert names == [
        "VELOCITY(19)", "NOTE_ON(48)", "PROGRAM(40)", "NOTE_ON(76)", "TIME_SHIFT(500ms)",
        "NOTE_OFF(76)", "NOTE_ON(77)", "DRUMS", "NOTE_ON(36)", "TIME_SHIFT(100ms)", "NOTE_OFF(36)",
        "TIME_SHIFT(400ms)", "NOTE_ON(38)", "PROGRAM(0)", "NOTE_OFF(48)", "PROGRAM(40)", "NOTE_OFF(77)",
        "TIME_SHIFT(100ms)", "DRUMS", "NOTE_OFF(38)",
    ]  # fmt: skip
    # At 1 s the drums, current since 0.6 s, go first: one instrument token fewer than in program order.


def test_pedal_and_same_key_rules_apply_per_instrument() -> None:
    codec = MultitrackCodec()
    pm = band(
        [
            (0, False, [(60, 0.0, 0.2, 80)], [(0.0, 127), (1.0, 0)]),  # pedal held to 1 s
            (40, False, [(60, 0.1, 0.3, 80)], []),  # same pitch on another instrument: untouched
            (41, False, [(62, 0.0, 1.0, 80), (62, 0.5, 0.7, 80)], []),  # a re-strike ends the sounding note
        ]
    )
    notes = {t: [(n.start, n.end, n.pitch) for n in ns] for t, ns in codec.decode_notes(codec.encode(pm)).items()}
    assert notes == {
        Track(0, False): [(0, 100, 60)],
        Track(40, False): [(10, 30, 60)],
        Track(41, False): [(0, 50, 62), (50, 70, 62)],
    }


def test_parts_sharing_a_program_share_one_instrument_and_folding_merges_families() -> None:
    pm = band(
        [
            (40, False, [(76, 0.0, 1.0, 80)], []),
            (40, False, [(72, 0.0, 1.0, 80), (76, 0.0, 0.5, 80)], []),  # a unison with the first violin
            (42, False, [(48, 0.0, 1.0, 80)], []),
            (0, True, [(36, 0.0, 0.1, 80)], []),
            (0, True, [(42, 0.0, 0.1, 80)], []),
            (5, False, [], []),  # no notes: no instrument
        ]
    )
    decoded = MultitrackCodec().decode(MultitrackCodec().encode(pm))
    assert [(i.program, i.is_drum, len(i.notes)) for i in decoded.instruments] == [
        (40, False, 2),
        (42, False, 1),
        (0, True, 2),
    ]
    assert [i.name for i in decoded.instruments] == ["Violin", "Cello", "Drums"]
    folded = MultitrackCodec(programs="family")
    assert [(i.program, len(i.notes)) for i in folded.decode(folded.encode(pm)).instruments] == [(40, 3), (0, 2)]


def test_transpose_leaves_drums_and_stretch_keeps_instruments() -> None:
    codec = MultitrackCodec()
    pm = band([(33, False, [(40, 0.0, 0.5, 80)], []), (0, True, [(36, 0.0, 0.5, 80)], [])])
    ids = codec.encode(pm)
    up = codec.decode_notes(codec.transpose(ids, 12) or [])
    assert [n.pitch for n in up[Track(33, False)]] == [52] and [n.pitch for n in up[Track(0, True)]] == [36]
    assert codec.transpose(ids, 100) is None
    slow = codec.decode_notes(codec.stretch(ids, 2.0))
    assert [(n.start, n.end) for n in slow[Track(0, True)]] == [(0, 100)]
    assert codec.seconds(codec.stretch(ids, 2.0)) == pytest.approx(1.0)


# --- round trips ------------------------------------------------------------------------------

_program = st.sampled_from([0, 0, 1, 7, 25, 33, 40, 41, 73, 127])  # repeats, and neighbours in one family


@st.composite
def bands(draw) -> list:
    """1-6 parts: programs (some shared), drum kits, empty parts, notes on few pitches that overlap and
    re-strike, timed off the 10 ms grid by less than a third of a step, some gaps past the longest shift."""
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        is_drum = draw(st.integers(0, 4)) == 0
        notes = []
        for _ in range(draw(st.integers(0, 10))):
            start = draw(st.integers(0, 400))
            length = draw(st.integers(1, 150))
            jitter = draw(st.integers(-3, 3)) / 1000
            pitch, velocity = draw(st.integers(58, 62)), draw(st.integers(1, 127))
            notes.append((pitch, max(0.0, start * STEP + jitter), (start + length) * STEP - jitter, velocity))
        parts.append((draw(_program), is_drum, notes, []))
    return parts


@CHECKS
@given(parts=bands(), programs=st.sampled_from(["all", "family"]))
def test_round_trip_keeps_each_notes_instrument_pitch_onset_and_length(parts, programs: str) -> None:
    codec = MultitrackCodec(programs=programs)
    pm = band(parts)
    ids = codec.encode(pm)
    got = _notes(codec, ids)
    # Every instrument with notes comes back once, under its program (its family's) or as the drum kit.
    want: dict[Track, list[tuple[int, int, int, int]]] = {}
    for program, is_drum, notes, _ in parts:
        for pitch, start, end, velocity in notes:
            s = round(start / STEP)
            key = codec.track(codec.slot(program, is_drum))
            want.setdefault(key, []).append(
                (s, max(s + 1, round(end / STEP)), pitch, codec.layout.velocity_bin(velocity))
            )
    assert set(got) == set(want)
    decoded = codec.decode(ids)
    assert [(i.program, i.is_drum) for i in decoded.instruments] == list(got)
    for track, notes in want.items():
        onsets = {(s, p) for s, _, p, _ in got[track]}
        assert len(onsets) == len(got[track])  # no pitch struck twice at once
        assert onsets == {(s, p) for s, _, p, _ in notes}  # every onset kept, none added
        for k, (s, e, p, v) in enumerate(notes):  # a note no other note of its instrument and pitch overlaps
            if not any(j != k and op == p and os < e and s < oe for j, (os, oe, op, _) in enumerate(notes)):
                assert (s, e, p, v) in got[track]
    assert codec.encode(decoded) == ids  # what decode writes encodes to the same ids
    assert codec.seconds(ids) == pytest.approx(max((e for ns in got.values() for _, e, _, _ in ns), default=0) * STEP)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(min_value=-3, max_value=530), max_size=300))
def test_decode_always_gives_a_valid_midi_with_one_instrument_per_program(ids: list[int]) -> None:
    codec = MultitrackCodec()
    pm = codec.decode(ids)
    keys = [(i.program, i.is_drum) for i in pm.instruments]
    assert len(keys) == len(set(keys))
    assert all(
        n.end > n.start and 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 for i in pm.instruments for n in i.notes
    )
    pm.write(io.BytesIO())
    wide = MultitrackCodec(max_tracks=129)  # random ids may sound more instruments than the default allows
    again = wide.decode(wide.encode(pm))
    assert [(i.program, i.is_drum, len(i.notes)) for i in again.instruments] == [
        (i.program, i.is_drum, len(i.notes)) for i in pm.instruments
    ]


def test_notes_before_any_instrument_token_are_piano() -> None:
    codec, layout = MultitrackCodec(), MultitrackCodec().layout
    ids = [layout.note_on(60), layout.shift(10), layout.note_off(60), codec.instrument_id(0, True), layout.note_on(36)]
    assert {t: [(n.start, n.end) for n in ns] for t, ns in codec.decode_notes(ids).items()} == {
        Track(0, False): [(0, 10)],
        Track(0, True): [(10, 11)],  # a note left sounding ends one step after the last one (as in MidiCodec)
    }


# --- music21's scores -------------------------------------------------------------------------

# Distinct programs in distinct families, given to a chorale's voices in turn (Flute, Oboe, Horn, Cello, Trumpet).
VOICES = ("Flute", "Oboe", "Horn", "Violoncello", "Trumpet")
CHORALES = 6
MIXED = "schumann_clara/opus17/movement3"  # violin, cello and two piano staves


@pytest.fixture(scope="module")
def music21_midis(tmp_path_factory) -> list[Path]:
    """A few chorales with an instrument per voice, and one mixed score, written to MIDI by music21 once."""
    from music21 import corpus, instrument

    folder = tmp_path_factory.mktemp("music21_multitrack")
    sources = sorted((Path(p) for p in corpus.getComposer("bach") if Path(p).name.startswith("bwv")), key=str)
    files = []
    for source in sources[:CHORALES]:
        score = corpus.parse(str(source))
        for index, part in enumerate(score.parts):
            for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
                old.activeSite.remove(old)
            part.insert(0, getattr(instrument, VOICES[index % len(VOICES)])())
        files.append(Path(score.write("midi", fp=str(folder / f"{source.stem}.mid"))))
    files.append(Path(corpus.parse(MIXED).write("midi", fp=str(folder / "schumann.mid"))))
    return files


@pytest.mark.parametrize("programs", ["all", "family"])
def test_every_part_of_music21_scores_keeps_its_own_track(music21_midis: list[Path], programs: str) -> None:
    codec = MultitrackCodec(programs=programs)
    for path in music21_midis:
        pm = load_midi(path)
        ids = codec.encode_file(path, add_bos_eos=True)
        assert ids[1:-1] == codec.encode(pm)
        got = _notes(codec, ids)
        parts: dict[Track, list] = {}
        for instrument in pm.instruments:
            parts.setdefault(codec.track(codec.slot(int(instrument.program), instrument.is_drum)), []).append(
                instrument
            )
        assert set(got) == set(parts), path.name
        for track, instruments in parts.items():
            expected = codec.performance(_keep(pm, instruments))[track]
            assert got[track] == [(n.start, n.end, n.pitch, codec.layout.velocity_bin(n.velocity)) for n in expected]
            # Every note's onset comes back, within half a step, on its part's instrument (unisons as one).
            onsets = {(round(n.start / STEP), n.pitch) for instrument in instruments for n in instrument.notes}
            assert {(s, p) for s, _, p, _ in got[track]} == onsets, (path.name, track)
            by_pitch: dict[int, list] = {}
            for instrument in instruments:
                for n in instrument.notes:
                    by_pitch.setdefault(n.pitch, []).append(n)
            kept = {(s, e, p) for s, e, p, _ in got[track]}
            for pitch, notes in by_pitch.items():  # and a note its key does not overlap keeps its length
                for n in notes:
                    if not any(o is not n and o.start < n.end and n.start < o.end for o in notes):
                        start = round(n.start / STEP)
                        assert (start, max(start + 1, round(n.end / STEP)), pitch) in kept
        decoded = path.parent / f"{path.stem}.{programs}.decoded.mid"
        codec.decode(ids).write(str(decoded))
        assert codec.encode_file(decoded, add_bos_eos=True) == ids
    chorale_tracks = [len(codec.decode_notes(codec.encode_file(p))) for p in music21_midis[:CHORALES]]
    assert min(chorale_tracks) >= 4  # four voices or more, each its own instrument
    mixed = codec.decode(codec.encode_file(music21_midis[-1]))
    strings = [(40, "Violin"), (42, "Cello")] if programs == "all" else [(40, "Violin")]  # one family when folded
    assert [(i.program, i.name) for i in mixed.instruments] == [(0, "Acoustic Grand Piano"), *strings]


def _keep(pm: pretty_midi.PrettyMIDI, instruments: list) -> pretty_midi.PrettyMIDI:
    """pm with only the given instruments (same end time, so a pedal held to the end lasts as long)."""
    kept = pretty_midi.PrettyMIDI()
    kept.instruments = list(instruments)
    kept.time_signature_changes = pm.time_signature_changes
    return kept
