"""Notes played live are encoded as their MIDI file would be, whenever the events are asked for."""

from __future__ import annotations

import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.live import LiveEncoder
from studio.errors import StudioError

CODEC = MidiCodec()
STEP = CODEC.step_seconds

# (gap before it in seconds, what, pitch, velocity, ask for the events first)
actions = st.lists(
    st.tuples(
        st.one_of(st.sampled_from([0.0, STEP / 2, STEP, 0.004, 0.006, 1.0, 2.5]), st.floats(0, 0.4)),
        st.sampled_from(["press", "press", "release", "release", "pedal_down", "pedal_up"]),
        st.integers(58, 64),
        st.integers(1, 127),
        st.booleans(),
    ),
    max_size=40,
)


def _file_of(played: list[tuple[float, str, int, int]], end: float) -> pretty_midi.PrettyMIDI:
    """The same performance as a MIDI file would hold it: one piano, its notes and sustain pedal."""
    piano = pretty_midi.Instrument(program=0)
    held: dict[int, tuple[float, int]] = {}
    for at, what, pitch, velocity in played:
        if what in ("press", "release") and pitch in held:
            start, vel = held.pop(pitch)
            piano.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=at))
        if what == "press":
            held[pitch] = (at, velocity)
        elif what.startswith("pedal"):
            piano.control_changes.append(pretty_midi.ControlChange(64, 127 if what == "pedal_down" else 0, at))
    for pitch, (start, vel) in held.items():
        piano.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))
    pedal = [cc.value for cc in piano.control_changes]
    if pedal and pedal[-1] >= 64:
        piano.control_changes.append(pretty_midi.ControlChange(64, 0, end))
    pm = pretty_midi.PrettyMIDI()
    pm.instruments.append(piano)
    return pm


@settings(max_examples=300, deadline=None)
@given(actions=actions, tail=st.floats(0, 2))
def test_live_events_are_the_file_s_events(actions: list, tail: float) -> None:
    encoder, events, now, played = LiveEncoder(CODEC), [], 0.0, []
    for gap, what, pitch, velocity, ask in actions:
        now += gap
        if ask:  # whatever is final by now, handed out before the next key
            events += encoder.events_until(now)
        if what == "press":
            encoder.press(now, pitch, velocity)
        elif what == "release":
            encoder.release(now, pitch)
        else:
            encoder.pedal(now, what == "pedal_down")
        played.append((now, what, pitch, velocity))
    end = now + tail
    events += encoder.finish(end)
    assert events == CODEC.encode(_file_of(played, end))


def test_events_come_as_soon_as_their_step_is_past() -> None:
    encoder = LiveEncoder(CODEC)
    encoder.press(0.0, 60, 80)
    assert encoder.events_until(0.0) == []  # step 0 could still gain a note
    first = encoder.events_until(0.011)  # step 0 is past: its velocity and NOTE_ON
    assert [CODEC.layout.classify(t)[0] for t in first] == ["VELOCITY", "NOTE_ON"]
    encoder.release(0.5, 60)
    assert encoder.events_until(0.5) == [] and encoder.holding is False
    rest = encoder.events_until(0.52)
    assert [CODEC.layout.classify(t)[0] for t in rest] == ["TIME_SHIFT", "NOTE_OFF"]
    assert encoder.finish(0.6) == []
    silence = encoder.rest_until(2.6)  # two seconds of rest before an answer, in the longest shifts
    assert [CODEC.layout.classify(t) for t in silence] == [("TIME_SHIFT", 100), ("TIME_SHIFT", 100), ("TIME_SHIFT", 10)]


def test_notes_out_of_range_are_one_line_errors() -> None:
    encoder = LiveEncoder(CODEC)
    with pytest.raises(StudioError, match="pitch 0-127, velocity 1-127"):
        encoder.press(0.0, 128, 64)
    with pytest.raises(StudioError, match="pitch 0-127, velocity 1-127"):
        encoder.press(0.0, 60, 0)
    with pytest.raises(StudioError, match="is not within a phrase"):
        encoder.press(float("nan"), 60, 64)
