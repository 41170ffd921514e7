"""MultitrackCodec's reading of files: the program-aware reader against pretty_midi, and bad input."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import mido
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from multitrack_bands import band

from studio.codecs.midi import load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.codecs.midi.programs import _fast_program_score, program_score
from studio.errors import StudioError

CHECKS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _midi_file(tracks: list[list[mido.Message]], ticks: int = 480) -> bytes:
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    for messages in tracks:
        midi.tracks.append(mido.MidiTrack(messages))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


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
    band([(0, True, [(36, 0.0, 0.1, 100), (38, 0.5, 0.6, 90), (42, 0.0, 1.0, 60)], [])]).write(str(path))
    decoded = MultitrackCodec().decode(MultitrackCodec().encode_file(path))
    assert [(i.is_drum, i.name, sorted(n.pitch for n in i.notes)) for i in decoded.instruments] == [
        (True, "Drums", [36, 38, 42])
    ]


def test_a_file_of_more_tracks_than_max_tracks_is_refused_in_one_line_or_folded(tmp_path: Path) -> None:
    path = tmp_path / "orchestra.mid"
    band([(k % 128, k == 120, [(40 + k % 40, k * 0.05, k * 0.05 + 0.5, 80)], []) for k in range(130)]).write(str(path))
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
        MultitrackCodec().encode(band([(200, False, [(60, 0.0, 0.5, 80)], [])]))


@pytest.mark.parametrize("content", [b"", b"MThd\x00\x00\x00\x06\x00\x01"])
def test_unreadable_files_raise_one_line_studio_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken song.mid"
    path.write_bytes(content)
    with pytest.raises(StudioError) as info:
        MultitrackCodec().encode_file(path)
    assert "broken song.mid" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(StudioError, match="does not exist"):
        MultitrackCodec().encode_file(tmp_path / "nope.mid")
