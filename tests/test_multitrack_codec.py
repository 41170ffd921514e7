"""MultitrackCodec: vocabulary, plain data, round trips per instrument (generated bands and music21 scores), the
program-aware reader against pretty_midi, bad input."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import mido
import pretty_midi
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.codecs import codec_from_dict
from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.codecs.midi.programs import REPRESENTATIVES, _fast_program_score, program_score
from studio.errors import StudioError

STEP = 0.01
CHECKS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _band(parts) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI of parts (program, is_drum, [(pitch, start, end, velocity)], pedal [(time, value)])."""
    pm = pretty_midi.PrettyMIDI()
    for program, is_drum, notes, pedal in parts:
        instrument = pretty_midi.Instrument(program=program, is_drum=is_drum)
        instrument.notes = [pretty_midi.Note(v, p, s, e) for p, s, e, v in notes]
        instrument.control_changes = [pretty_midi.ControlChange(64, value, t) for t, value in pedal]
        pm.instruments.append(instrument)
    return pm


def _notes(codec: MultitrackCodec, ids) -> dict[Track, list[tuple[int, int, int, int]]]:
    """Decoded notes per instrument as (start, end, pitch, velocity bin)."""
    bin_of = codec.layout.velocity_bin
    return {t: [(n.start, n.end, n.pitch, bin_of(n.velocity)) for n in ns] for t, ns in codec.decode_notes(ids).items()}


def _midi_file(tracks: list[list[mido.Message]], ticks: int = 480) -> bytes:
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


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
    pm = _band([(0, False, [(60, 0.0, 0.5, 80), (64, 0.25, 2.5, 30), (60, 0.5, 1.0, 100)], [(0.1, 100), (1.5, 0)])])
    assert MultitrackCodec().encode(pm, add_bos_eos=True) == MidiCodec().encode(pm, add_bos_eos=True)


def test_instrument_tokens_only_when_the_instrument_changes() -> None:
    codec = MultitrackCodec()
    pm = _band(
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
    pm = _band(
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
    pm = _band(
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
    pm = _band([(33, False, [(40, 0.0, 0.5, 80)], []), (0, True, [(36, 0.0, 0.5, 80)], [])])
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
    pm = _band(parts)
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


# --- the program-aware reader -----------------------------------------------------------------

_channel = st.sampled_from([0, 1, 9])
_delta = st.one_of(st.just(0), st.integers(1, 40), st.integers(41, 900))
_pitch = st.integers(60, 61)  # two keys, so notes overlap, re-strike and close each other
_other = st.one_of(
    st.builds(
        lambda c, n, v, t: mido.Message("note_on", channel=c, note=n, velocity=v, time=t),
        _channel,
        _pitch,
        st.integers(0, 127),
        _delta,
    ),
    st.builds(lambda c, n, t: mido.Message("note_off", channel=c, note=n, time=t), _channel, _pitch, _delta),
    st.builds(
        lambda c, p, t: mido.Message("program_change", channel=c, program=p, time=t),
        _channel,
        st.sampled_from([0, 3, 40, 41]),
        _delta,
    ),
    st.builds(
        lambda c, v, t: mido.Message("control_change", channel=c, control=64, value=v, time=t),
        _channel,
        st.integers(0, 127),
        _delta,
    ),
    st.builds(lambda t, d: mido.MetaMessage("set_tempo", tempo=t, time=d), st.integers(100_000, 1_500_000), _delta),
)


@st.composite
def _tracks(draw) -> list[list[mido.Message]]:
    """1-3 tracks of notes (on and off on one channel and key) between program changes, pedals, tempos and
    stray events."""
    tracks = []
    for _ in range(draw(st.integers(1, 3))):
        messages = []
        for _ in range(draw(st.integers(1, 12))):
            channel, pitch, velocity = draw(_channel), draw(_pitch), draw(st.integers(1, 127))
            program = draw(st.sampled_from([None, 0, 3, 40, 41]))
            if program is not None:
                messages.append(mido.Message("program_change", channel=channel, program=program, time=draw(_delta)))
            messages.append(mido.Message("note_on", channel=channel, note=pitch, velocity=velocity, time=draw(_delta)))
            messages += draw(st.lists(_other, max_size=2))
            messages.append(mido.Message("note_off", channel=channel, note=pitch, time=draw(_delta)))
        tracks.append(messages)
    return tracks


@CHECKS
@given(tracks=_tracks())
def test_the_fast_reader_names_every_parts_program_as_pretty_midi_does(tracks) -> None:
    data = _midi_file(tracks)
    fast = _fast_program_score(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            slow = program_score(pretty_midi.PrettyMIDI(io.BytesIO(data)))
        except Exception:
            slow = None
    assert fast is not None or slow is None
    if slow is not None:
        assert fast == slow


def test_program_changes_mid_track_follow_pretty_midis_rule(tmp_path: Path) -> None:
    """A note belongs to the program in force on its channel when it ends: a change between notes starts a new
    instrument; a change while a note sounds moves that note to the new program."""
    on = lambda pitch, t=0: mido.Message("note_on", note=pitch, velocity=90, time=t)
    off = lambda pitch, t=0: mido.Message("note_off", note=pitch, time=t)
    change = lambda program, t=0: mido.Message("program_change", program=program, time=t)
    path = tmp_path / "changes.mid"
    track = [change(0), on(60), off(60, 480), change(40), on(62), off(62, 480), on(64), change(73, 240), off(64, 240)]
    path.write_bytes(_midi_file([track]))
    codec = MultitrackCodec()
    ids = codec.encode_file(path)
    assert ids == codec.encode(load_midi(path))
    assert {t.program: [n.pitch for n in ns] for t, ns in codec.decode_notes(ids).items()} == {
        0: [60],
        40: [62],
        73: [64],
    }


def test_overlapping_same_pitch_notes_on_one_channel(tmp_path: Path) -> None:
    """pretty_midi pairs each NOTE_OFF with every open note of its key; the codec then lets a re-strike end the
    sounding note (first note 0..0.5 s, second 0.5..1.5 s) and keeps another channel's same key apart."""
    on = lambda pitch, t=0, ch=0: mido.Message("note_on", note=pitch, velocity=90, time=t, channel=ch)
    off = lambda pitch, t=0, ch=0: mido.Message("note_off", note=pitch, time=t, channel=ch)
    path = tmp_path / "overlaps.mid"
    path.write_bytes(_midi_file([[on(60), on(60, 480), on(60, 0, ch=1), off(60, 960), off(60, 0, ch=1)]]))
    codec = MultitrackCodec()
    ids = codec.encode_file(path)
    assert ids == codec.encode(load_midi(path))
    assert {t: [(n.start, n.end) for n in ns] for t, ns in codec.decode_notes(ids).items()} == {
        Track(0, False): [(0, 50), (50, 150)]
    }  # channel 1 has program 0 too: one piano, the unison at 0.5 s collapses into the longer note


# --- bad input --------------------------------------------------------------------------------


def test_a_drums_only_file(tmp_path: Path) -> None:
    path = tmp_path / "kit.mid"
    _band([(0, True, [(36, 0.0, 0.1, 100), (38, 0.5, 0.6, 90), (42, 0.0, 1.0, 60)], [])]).write(str(path))
    decoded = MultitrackCodec().decode(MultitrackCodec().encode_file(path))
    assert [(i.is_drum, i.name, sorted(n.pitch for n in i.notes)) for i in decoded.instruments] == [
        (True, "Drums", [36, 38, 42])
    ]


def test_a_file_of_more_tracks_than_max_tracks_is_refused_in_one_line_or_folded(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.mid"
    _band([(k % 128, k == 120, [(40 + k % 40, k * 0.05, k * 0.05 + 0.5, 80)], []) for k in range(130)]).write(str(path))
    assert len(load_midi(path).instruments) == 130
    with pytest.raises(StudioError) as info:
        MultitrackCodec().encode_file(path)
    message = str(info.value)
    assert "orchestra.mid has 128 instruments, more than max_tracks=16" in message and "programs='family'" in message
    assert "\n" not in message
    folded = MultitrackCodec(programs="family", max_tracks=17)
    assert len(folded.decode(folded.encode_file(path)).instruments) == 17
    with pytest.raises(StudioError, match="has 17 instruments, more than max_tracks=16: raise max_tracks"):
        MultitrackCodec(programs="family").encode_file(path)
    assert (
        len(MultitrackCodec(max_tracks=129).decode(MultitrackCodec(max_tracks=129).encode_file(path)).instruments)
        == 128
    )


def test_a_program_outside_general_midi_is_a_one_line_error() -> None:
    with pytest.raises(
        StudioError, match="the piece has an instrument of program 200: General MIDI programs are 0..127"
    ):
        MultitrackCodec().encode(_band([(200, False, [(60, 0.0, 0.5, 80)], [])]))


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_unreadable_files_raise_one_line_studio_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken song.mid"
    path.write_bytes(content)
    with pytest.raises(StudioError) as info:
        MultitrackCodec().encode_file(path)
    assert "broken song.mid" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(StudioError, match="does not exist"):
        MultitrackCodec().encode_file(tmp_path / "nope.mid")


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
