"""The fast MIDI reader reads every file it accepts exactly as pretty_midi does, and hands the rest back."""

from __future__ import annotations

import io
import warnings

import mido
import pretty_midi
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.file import read_score
from studio.codecs.midi.score import Score, score_from_pretty_midi

CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pretty_midi_score(data: bytes) -> Score | None:
    """What pretty_midi reads from the bytes (None if it cannot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return score_from_pretty_midi(pretty_midi.PrettyMIDI(io.BytesIO(data)))
        except Exception:
            return None


_channel = st.sampled_from([0, 1, 9])
_note = st.integers(58, 62)  # few pitches, so notes overlap, re-strike and close each other
_delta = st.one_of(st.just(0), st.integers(1, 40), st.integers(41, 2000))
_message = st.one_of(
    st.builds(
        lambda c, n, v, t: mido.Message("note_on", channel=c, note=n, velocity=v, time=t),
        _channel,
        _note,
        st.integers(0, 127),
        _delta,
    ),
    st.builds(lambda c, n, t: mido.Message("note_off", channel=c, note=n, time=t), _channel, _note, _delta),
    st.builds(
        lambda c, k, v, t: mido.Message("control_change", channel=c, control=k, value=v, time=t),
        _channel,
        st.sampled_from([64, 64, 7]),
        st.integers(0, 127),
        _delta,
    ),
    st.builds(
        lambda c, p, t: mido.Message("program_change", channel=c, program=p, time=t),
        _channel,
        st.integers(0, 3),
        _delta,
    ),
    st.builds(
        lambda c, p, t: mido.Message("pitchwheel", channel=c, pitch=p, time=t),
        _channel,
        st.integers(-8192, 8191),
        _delta,
    ),
    st.builds(lambda t, d: mido.MetaMessage("set_tempo", tempo=t, time=d), st.integers(1, 2_000_000), _delta),
    st.builds(
        lambda n, t: mido.MetaMessage("time_signature", numerator=n, denominator=4, time=t), st.integers(1, 7), _delta
    ),
    st.builds(
        lambda k, t: mido.MetaMessage("key_signature", key=k, time=t), st.sampled_from(["C", "Am", "F#", "Eb"]), _delta
    ),
    st.builds(lambda s, t: mido.MetaMessage("text", text=s, time=t), st.text("ab", max_size=3), _delta),
    st.builds(lambda s, t: mido.MetaMessage("lyrics", text=s, time=t), st.text("ab", max_size=3), _delta),
    st.builds(lambda d, t: mido.Message("sysex", data=d, time=t), st.lists(st.integers(0, 127), max_size=4), _delta),
)


@st.composite
def midi_files(draw) -> bytes:
    """A Standard MIDI File of 1-3 tracks of random channel and meta events (mido writes running status)."""
    ticks = draw(st.sampled_from([1, 96, 480]))
    midi = mido.MidiFile(type=1, ticks_per_beat=ticks)
    for _ in range(draw(st.integers(1, 3))):
        midi.tracks.append(mido.MidiTrack(draw(st.lists(_message, max_size=40))))
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@CHECKS
@given(data=midi_files())
def test_well_formed_files_are_read_fast_and_exactly_like_pretty_midi(data: bytes) -> None:
    fast = read_score(data)
    assert fast is not None, "a plain well-formed file must not fall back to pretty_midi"
    assert fast == pretty_midi_score(data)


@CHECKS
@given(data=midi_files(), cut=st.integers(0, 400), noise=st.binary(max_size=16), at=st.integers(0, 400))
@example(  # a sysex whose data byte is over 127: mido refuses the file, so the fast reader must hand it back
    data=b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x01MTrk\x00\x00\x00\x10\x00\x80:@\x00\x90:\x00\x00\xf0\x01\xf7"
    b"\x00\xff/\x00",
    cut=1,
    noise=b"\x80",
    at=33,
)
@example(  # a meta event of a type mido does not know (08): mido drops its delta time, so it is handed back
    data=b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x01MTrk\x00\x00\x00\x22\x00\xffQ\x03\x00\x00\x01"
    b"\x81\x00\xffQ\x03\x00\x00\x02\x81\x00\xffQ\x03\x00\x00\x01\x00\xffQ\x03\x00\x00\x01\x00\xff/\x00",
    cut=1,
    noise=b"\x08",
    at=40,
)
@example(  # a time signature over 2**51: mido refuses it (its power-of-two check is in floating point)
    data=b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x01MTrk\x00\x00\x00\x0c\x00\xffX\x04\x01\x02\x18\x08\x00\xff/\x00",
    cut=1,
    noise=b"3",
    at=27,
)
def test_damaged_files_are_either_read_exactly_or_handed_back(data: bytes, cut: int, noise: bytes, at: int) -> None:
    damaged = data[:at] + noise + data[at + len(noise) :] if cut % 2 else data[: len(data) - cut] + noise
    fast = read_score(damaged)
    if fast is not None:
        assert fast == pretty_midi_score(damaged)


def test_what_it_hands_back() -> None:
    valid = io.BytesIO()
    mido.MidiFile(
        tracks=[mido.MidiTrack([mido.Message("note_on", note=60, time=0), mido.Message("note_off", note=60, time=10)])]
    ).save(file=valid)
    data = valid.getvalue()
    assert read_score(data) is not None
    smpte = data[:12] + bytes([0xE7, 0x28]) + data[14:]  # SMPTE division: 25 fps, 40 ticks per frame
    assert read_score(smpte) is None
    assert read_score(b"RIFF" + data) is None
    assert read_score(data[:-3]) is None


@given(data=midi_files())
@settings(max_examples=40, deadline=None)
def test_encode_file_equals_encoding_what_pretty_midi_reads(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    slow = pretty_midi_score(data)
    path = tmp_path_factory.mktemp("f") / "x.mid"
    path.write_bytes(data)
    codec = MidiCodec()
    assert slow is not None and codec.encode_file(path) == codec.encode(slow)
