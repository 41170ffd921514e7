"""Hostile inputs: random and truncated bytes, odd encodings, arbitrary event ids and sampling arguments.

Each input either works or raises the documented one-line `StudioError`; none crashes or hangs.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datamodules.corpora import read_corpus_path
from datamodules.speech_corpus import read_manifest, scan_timit
from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.speech import FeatureSettings, extract, read_audio
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.generation.sampling import SamplingSettings

FUZZ = settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
CODEC = MidiCodec()


def _midi_bytes() -> bytes:
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes += [pretty_midi.Note(80, 60 + i, i * 0.25, i * 0.25 + 0.4) for i in range(8)]
    pm.instruments.append(piano)
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


VALID_MIDI = _midi_bytes()


@FUZZ
@given(data=st.binary(max_size=400), encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii"]))
def test_text_reader_takes_any_bytes(tmp_path_factory, data: bytes, encoding: str) -> None:
    path = tmp_path_factory.mktemp("t") / "x.txt"
    path.write_bytes(data)
    try:
        text = read_corpus_path(str(path), encoding)
    except StudioError as error:
        assert "\n" not in str(error) and "x.txt" in str(error)
    else:
        assert isinstance(text, str)


@FUZZ
@given(text=st.text(min_size=1, max_size=300))
def test_char_codec_round_trips_any_text(text: str) -> None:
    codec = TextCodec.train([text], "char")
    assert codec.decode(codec.encode(text)) == text


@FUZZ
@given(cut=st.integers(0, len(VALID_MIDI)), noise=st.binary(max_size=64))
def test_midi_reader_takes_truncated_and_random_bytes(tmp_path_factory, cut: int, noise: bytes) -> None:
    path = tmp_path_factory.mktemp("m") / "x.mid"
    path.write_bytes(VALID_MIDI[:cut] + noise)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ids = CODEC.encode_file(path)  # the fast reader, falling back to pretty_midi
        except StudioError as error:
            assert "\n" not in str(error) and "x.mid" in str(error)
            with pytest.raises(StudioError):
                load_midi(path)
        else:
            CODEC.decode(ids)


@FUZZ
@given(ids=st.lists(st.integers(0, CODEC.vocab_size - 1), max_size=300))
def test_any_event_sequence_decodes_to_a_valid_midi_file(ids: list[int]) -> None:
    pm = CODEC.decode(ids)
    buffer = io.BytesIO()
    pm.write(buffer)
    buffer.seek(0)
    reread = pretty_midi.PrettyMIDI(buffer)
    assert all(note.end > note.start and 0 <= note.pitch <= 127 for inst in reread.instruments for note in inst.notes)


@FUZZ
@given(data=st.binary(max_size=600))
def test_audio_reader_takes_random_bytes(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("a") / "x.wav"
    path.write_bytes(b"RIFF" + data)
    try:
        audio, rate = read_audio(path)
    except StudioError as error:
        assert "\n" not in str(error)
    else:
        if len(audio):
            extract(audio, rate, FeatureSettings())


@FUZZ
@given(lines=st.lists(st.text(max_size=40), max_size=6))
def test_phn_and_manifest_parsers_take_any_lines(tmp_path_factory, lines: list[str]) -> None:
    root = tmp_path_factory.mktemp("corpus")
    (root / "spk").mkdir()
    import soundfile

    soundfile.write(root / "spk" / "u1.wav", np.zeros(1600, dtype=np.float32), 16000)
    (root / "spk" / "u1.phn").write_text("\n".join(lines))
    (root / "m.jsonl").write_text("\n".join(lines))
    for parse in (lambda: scan_timit(root), lambda: read_manifest(root / "m.jsonl")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parse()
            except StudioError as error:
                assert "\n" not in str(error)


@FUZZ
@given(
    temperature=st.floats(allow_nan=True, allow_infinity=True),
    top_k=st.integers(-5, 10**6),
    top_p=st.floats(allow_nan=True, allow_infinity=True),
)
def test_sampling_arguments_are_validated(temperature: float, top_k: int, top_p: float) -> None:
    try:
        chosen = SamplingSettings(temperature, top_k, top_p)
    except StudioError:
        return
    assert chosen.temperature > 0 and 0 < chosen.top_p <= 1 and chosen.top_k >= 0 and not math.isnan(chosen.temperature)
