"""Rendering: WAV files (built-in synth always, FluidSynth when installed) and piano-roll PNGs."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from studio.errors import StudioError
from studio.generation.render import find_soundfont, render_piano_roll, render_wav, synthesize

SR = 22050


def _melody() -> pretty_midi.PrettyMIDI:
    """A4 for 1 s, 1 s of silence, then a loud chord (with a drum hit) until 3.5 s."""
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(90, 69, 0.0, 1.0)]
    piano.notes += [pretty_midi.Note(127, p, 2.0, 3.5) for p in (48, 52, 55, 60, 64, 67, 72)]
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 2.0, 2.1)]
    pm.instruments += [piano, drums]
    return pm


def _fluidsynth_available() -> bool:
    try:
        return bool(shutil.which("fluidsynth")) and find_soundfont() is not None
    except StudioError:
        return False


def test_builtin_wav_has_the_right_length_level_and_pitch(tmp_path) -> None:
    path = tmp_path / "out" / "song.wav"
    assert render_wav(_melody(), path, sample_rate=SR, backend="builtin") == "builtin"
    info = sf.info(str(path))
    assert info.subtype == "PCM_16" and info.samplerate == SR and info.channels == 1
    audio, _ = sf.read(str(path), dtype="int16")
    assert abs(len(audio) / SR - 3.5) <= 0.03 * 3.5
    assert np.abs(audio).max() < 32767  # normalized: no clipping
    level = lambda a, b: np.sqrt(np.mean(audio[int(a * SR) : int(b * SR)].astype(float) ** 2))
    assert level(0.1, 0.9) > 1000 and level(2.1, 3.3) > 1000
    assert level(1.1, 1.9) < 1.0  # the silence stays silent
    first = audio[:SR].astype(float)
    spectrum = np.abs(np.fft.rfft(first * np.hanning(len(first))))
    assert abs(np.argmax(spectrum) * SR / len(first) - 440.0) < 3.0
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temp file left behind


def test_builtin_wav_overwrites_and_handles_an_empty_score(tmp_path) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(b"stale")
    render_wav(pretty_midi.PrettyMIDI(), path, backend="builtin")
    audio, rate = sf.read(str(path))
    assert rate == 22050 and len(audio) > 0 and not np.any(audio)


def test_synthesize_skips_drums_and_scales_with_velocity() -> None:
    loud, soft = pretty_midi.PrettyMIDI(), pretty_midi.PrettyMIDI()
    for pm, velocity in ((loud, 120), (soft, 30)):
        inst = pretty_midi.Instrument(program=0)
        inst.notes = [pretty_midi.Note(velocity, 60, 0.0, 0.5)]
        pm.instruments.append(inst)
    assert np.abs(synthesize(loud, SR)).max() > 3 * np.abs(synthesize(soft, SR)).max()
    only_drums = pretty_midi.PrettyMIDI()
    only_drums.instruments.append(pretty_midi.Instrument(0, is_drum=True))
    only_drums.instruments[0].notes = [pretty_midi.Note(100, 36, 0.0, 0.5)]
    assert not np.any(synthesize(only_drums, SR))


def test_auto_backend_picks_what_is_installed(tmp_path) -> None:
    used = render_wav(_melody(), tmp_path / "auto.wav")
    assert used == ("fluidsynth" if _fluidsynth_available() else "builtin")
    assert sf.info(str(tmp_path / "auto.wav")).frames > 0


def test_fluidsynth_backend(tmp_path) -> None:
    if not _fluidsynth_available():
        if not shutil.which("fluidsynth"):
            with pytest.raises(StudioError, match="fluidsynth"):
                render_wav(_melody(), tmp_path / "fs.wav", backend="fluidsynth")
        pytest.skip("FluidSynth or a GM soundfont is not installed (apt install fluidsynth fluid-soundfont-gm)")
    path = tmp_path / "fs.wav"
    assert render_wav(_melody(), path, sample_rate=SR, backend="fluidsynth") == "fluidsynth"
    audio, rate = sf.read(str(path), dtype="int16")
    assert rate == SR and sf.info(str(path)).subtype == "PCM_16"
    # At most half a second of release/reverb is kept after the last note.
    assert 3.5 * 0.97 <= len(audio) / SR <= 3.5 + 0.5 + 0.01
    assert np.abs(audio).max() > 1000 and np.abs(audio).max() < 32767


def test_piano_roll_is_a_png_of_sane_size(tmp_path) -> None:
    path = tmp_path / "roll.png"
    render_piano_roll(_melody(), path, title="test roll")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert 600 <= width <= 3000 and 200 <= height <= 2000
    assert len(data) > 5000
    assert list(tmp_path.iterdir()) == [path]


def test_piano_roll_draws_notes(tmp_path) -> None:
    import matplotlib.image

    render_piano_roll(_melody(), tmp_path / "full.png")
    render_piano_roll(pretty_midi.PrettyMIDI(), tmp_path / "empty.png")
    full = matplotlib.image.imread(str(tmp_path / "full.png"))
    empty = matplotlib.image.imread(str(tmp_path / "empty.png"))
    # Notes are blue boxes: far more strongly blue pixels than on an empty roll.
    blue = lambda img: np.sum((img[..., 2] > 0.5) & (img[..., 0] < 0.4))
    assert blue(full) > 5 * max(blue(empty), 100)


def _band(programs: list[int], drums: bool = False) -> pretty_midi.PrettyMIDI:
    """The same arpeggio for each program (an octave apart), and a snare on every beat with drums."""
    pm = pretty_midi.PrettyMIDI()
    for k, program in enumerate(programs):
        part = pretty_midi.Instrument(program=program)
        part.notes = [
            pretty_midi.Note(100, p + 12 * k, i * 0.5, i * 0.5 + 0.45) for i, p in enumerate([48, 52, 55, 60])
        ]
        pm.instruments.append(part)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        kit.notes = [pretty_midi.Note(110, 38, i * 0.5, i * 0.5 + 0.1) for i in range(4)]
        pm.instruments.append(kit)
    return pm


def _spectrum(pm: pretty_midi.PrettyMIDI, path) -> np.ndarray:
    assert render_wav(pm, path, sample_rate=SR, backend="fluidsynth") == "fluidsynth"
    audio, _ = sf.read(str(path), dtype="float64")
    magnitude = np.abs(np.fft.rfft(audio[: 2 * SR]))
    return magnitude / np.linalg.norm(magnitude)


def test_fluidsynth_plays_each_instrument_with_its_general_midi_sound(tmp_path) -> None:
    """The same notes as a piano, a flute and a cello sound different, and a band differs from its notes all
    played on the piano: a renderer that ignored programs fails. A kit alone is heard (the built-in synth is
    silent there)."""
    if not _fluidsynth_available():
        pytest.skip("FluidSynth or a GM soundfont is not installed (apt install fluidsynth fluid-soundfont-gm)")
    piano, again = _spectrum(_band([0]), tmp_path / "piano.wav"), _spectrum(_band([0]), tmp_path / "again.wav")
    assert piano @ again > 0.999  # the same piece renders the same
    for program in (73, 42):  # Flute, Cello
        assert piano @ _spectrum(_band([program]), tmp_path / f"{program}.wav") < 0.9
    band = _spectrum(_band([0, 33, 73], drums=True), tmp_path / "band.wav")
    assert band @ _spectrum(_band([0, 0, 0], drums=True), tmp_path / "flat.wav") < 0.9
    kit = pretty_midi.PrettyMIDI()
    kit.instruments.append(pretty_midi.Instrument(program=0, is_drum=True))
    kit.instruments[0].notes = [pretty_midi.Note(110, 38, 0.0, 0.1)]
    render_wav(kit, tmp_path / "kit.wav", sample_rate=SR, backend="fluidsynth")
    assert np.abs(sf.read(str(tmp_path / "kit.wav"))[0]).max() > 0.5
