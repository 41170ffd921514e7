"""Speech features (framing, mel, MFCC, deltas, CMVN, resampling), audio reading, label sets and frame labels."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import soundfile
import torch

from studio.codecs.speech import (
    IGNORE_INDEX,
    FeatureSettings,
    LabelSet,
    add_deltas,
    extract,
    frame_labels,
    mel_filterbank,
    read_audio,
)
from studio.errors import StudioError

TIMIT_FOLDING = Path(__file__).resolve().parents[1] / "datamodules" / "labelsets" / "timit_61_to_39.txt"


def _tone(freq: float, seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).standard_normal(t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + 0.001 * noise).astype(np.float32)


def _band_centres_hz(settings: FeatureSettings) -> np.ndarray:
    bank = mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels)
    return np.argmax(bank, axis=1) * settings.sample_rate / settings.n_fft


def test_frame_count_and_shape_for_25ms_window_10ms_hop() -> None:
    settings = FeatureSettings()
    feats = extract(_tone(440, 1.0, 16000), 16000, settings)
    # Frames start every 160 samples while a whole 400-sample window fits: 1 + (16000 - 400) // 160.
    assert feats.shape == (98, 40 * 3) == (settings.num_frames(16000), settings.num_features)
    assert feats.dtype == np.float32
    mfcc = FeatureSettings(kind="mfcc", deltas=0)
    assert extract(_tone(440, 1.0, 16000), 16000, mfcc).shape == (98, 13)
    assert FeatureSettings(kind="mfcc", deltas=1).num_features == 26


def test_short_and_empty_audio() -> None:
    settings = FeatureSettings()
    assert extract(np.zeros(100, np.float32), 16000, settings).shape == (1, settings.num_features)
    assert extract(np.zeros(0, np.float32), 16000, settings).shape == (0, settings.num_features)


def test_frame_times_follow_window_and_hop() -> None:
    starts, ends = FeatureSettings().frame_times(5)
    np.testing.assert_allclose(starts, [0.0, 0.01, 0.02, 0.03, 0.04])
    np.testing.assert_allclose(ends - starts, 0.025)


def test_mel_bands_put_a_tone_in_the_right_band_and_none_is_empty() -> None:
    settings = FeatureSettings(deltas=0, cmvn=False)
    bank = mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels)
    assert bank.shape == (40, 257) and (bank.sum(axis=1) > 0).all()
    feats = extract(_tone(1000, 0.5, 16000), 16000, settings)
    loudest = np.bincount(np.argmax(feats, axis=1)).argmax()
    assert abs(_band_centres_hz(settings)[loudest] - 1000) < 80


def test_mfcc_is_the_dct_of_log_mel() -> None:
    audio = _tone(700, 0.3, 16000)
    logmel = extract(audio, 16000, FeatureSettings(deltas=0, cmvn=False))
    mfcc = extract(audio, 16000, FeatureSettings(kind="mfcc", deltas=0, cmvn=False))
    expected = scipy.fft.dct(logmel.astype(np.float64), type=2, norm="ortho", axis=1)[:, :13]
    np.testing.assert_allclose(mfcc, expected, rtol=1e-4, atol=1e-3)


def test_deltas_follow_the_regression_formula() -> None:
    ramp = np.arange(10, dtype=np.float64)[:, None] * np.array([[1.0, -2.0]])
    out = add_deltas(ramp, 2)
    assert out.shape == (10, 6)
    np.testing.assert_array_equal(out[:, :2], ramp)
    # A linear ramp has slope 1 (and -2) away from the edges and no curvature.
    np.testing.assert_allclose(out[2:-2, 2:4], [[1.0, -2.0]] * 6)
    np.testing.assert_allclose(out[4:-4, 4:6], 0.0, atol=1e-12)
    audio = _tone(300, 0.4, 16000) * np.linspace(0.1, 1, 6400, dtype=np.float32)
    static = extract(audio, 16000, FeatureSettings(deltas=0, cmvn=False))
    both = extract(audio, 16000, FeatureSettings(deltas=2, cmvn=False))
    np.testing.assert_allclose(both[:, :40], static, rtol=1e-5)
    np.testing.assert_allclose(both, add_deltas(static.astype(np.float64), 2), rtol=1e-4, atol=1e-4)


def test_cmvn_gives_zero_mean_and_unit_variance() -> None:
    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(16000) * np.linspace(0.01, 1.0, 16000)).astype(np.float32)
    feats = extract(audio, 16000, FeatureSettings())
    np.testing.assert_allclose(feats.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(feats.std(axis=0), 1.0, atol=1e-3)
    raw = extract(audio, 16000, FeatureSettings(cmvn=False))
    assert np.abs(raw.mean(axis=0)).max() > 1.0


def test_resampling_8k_to_16k_keeps_duration_and_spectrum() -> None:
    settings = FeatureSettings(deltas=0, cmvn=False)
    at_8k = extract(_tone(1000, 1.0, 8000), 8000, settings)
    at_16k = extract(_tone(1000, 1.0, 16000), 16000, settings)
    assert at_8k.shape == at_16k.shape == (98, 40)
    assert np.argmax(at_8k.mean(axis=0)) == np.argmax(at_16k.mean(axis=0))
    # Above 4 kHz the 8 kHz recording has nothing, so those bands sit far below the 16 kHz ones' tone band.
    high = _band_centres_hz(settings) > 4500
    assert at_8k[:, high].mean() < at_8k.max() - 10


def test_extract_is_deterministic() -> None:
    audio = _tone(523, 0.7, 22050)
    assert extract(audio, 22050, FeatureSettings()).tobytes() == extract(audio, 22050, FeatureSettings()).tobytes()


def test_settings_round_trip_through_weights_only_checkpoint() -> None:
    settings = FeatureSettings(kind="mfcc", n_mfcc=20, deltas=1, cmvn=False, window_ms=20)
    data = settings.to_dict()
    json.dumps(data)  # plain data only
    buffer = io.BytesIO()
    torch.save({"features": data}, buffer)
    buffer.seek(0)
    assert FeatureSettings.from_dict(torch.load(buffer, weights_only=True)["features"]) == settings
    assert FeatureSettings(window_ms=25).to_dict() == FeatureSettings(window_ms=25.0).to_dict()


@pytest.mark.parametrize("bad", [{"kind": "spectrogram"}, {"deltas": 3}, {"hop_ms": 0}, {"kind": "mfcc", "n_mfcc": 60}])
def test_bad_settings_raise_studio_error(bad: dict) -> None:
    with pytest.raises(StudioError):
        FeatureSettings(**bad)
    with pytest.raises(StudioError, match="unknown speech feature settings"):
        FeatureSettings.from_dict({"n_mel": 40})


def test_read_audio_downmixes_to_mono(tmp_path: Path) -> None:
    stereo = np.stack([np.full(800, 0.5), np.full(800, -0.25)], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, 8000, subtype="FLOAT")
    audio, sr = read_audio(tmp_path / "s.wav")
    assert sr == 8000 and audio.dtype == np.float32 and audio.shape == (800,)
    np.testing.assert_allclose(audio, 0.125)


def test_read_audio_errors_name_the_file_and_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x01 this is not audio at all" * 10)
    with pytest.raises(StudioError) as info:
        read_audio(bad)
    message = str(info.value)
    assert "broken.wav" in message and "convert it" in message and "\n" not in message
    with pytest.raises(StudioError, match="missing.wav not found"):
        read_audio(tmp_path / "missing.wav")


def test_labelset_blank_encode_decode_and_round_trip() -> None:
    labels = LabelSet(["a", "b", "c"])
    assert labels.blank == 0 and labels.labels == ("<blank>", "a", "b", "c") and len(labels) == 4
    assert labels.encode(["c", "a", "b"]) == [3, 1, 2]
    assert labels.decode([3, 0, 1], strip_blank=True) == ["c", "a"]
    buffer = io.BytesIO()
    torch.save(labels.to_dict(), buffer)
    buffer.seek(0)
    assert LabelSet.from_dict(torch.load(buffer, weights_only=True)) == labels


def test_unknown_label_names_the_label_and_the_fix() -> None:
    with pytest.raises(StudioError, match=r"unknown label 'zz'.*add it to the label-set file"):
        LabelSet(["a", "b"]).encode(["a", "zz"])
    with pytest.raises(StudioError, match="listed twice"):
        LabelSet(["a", "a"])


def test_timit_folding_61_to_39() -> None:
    folded = LabelSet.from_folding_file(TIMIT_FOLDING)
    assert len(folded.folding) == 61
    assert len(folded) == 39 + 1  # plus the blank
    assert folded.fold("q") is None
    assert folded.fold("ao") == "aa" and folded.fold("zh") == "sh" and folded.fold("ux") == "uw"
    assert {folded.fold(p) for p in ("h#", "pau", "epi", "bcl", "dcl", "gcl", "pcl", "tcl", "kcl")} == {"sil"}
    # q is dropped from sequences; the folded labels themselves encode as they are.
    assert folded.decode(folded.encode(["h#", "q", "ix", "ah", "sil"])) == ["sil", "ih", "ah", "sil"]
    with pytest.raises(StudioError, match="unknown label 'xx'"):
        folded.fold("xx")
    buffer = io.BytesIO()
    torch.save(folded.to_dict(), buffer)
    buffer.seek(0)
    restored = LabelSet.from_dict(torch.load(buffer, weights_only=True))
    assert restored == folded and restored.fold("q") is None


def test_folding_file_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "map.txt"
    path.write_text("# comment\naa aa\nao\n")
    with pytest.raises(StudioError, match=r"map.txt:3"):
        LabelSet.from_folding_file(path)


def test_frame_labels_use_the_segment_under_each_frame_centre() -> None:
    settings = FeatureSettings()
    labels = LabelSet(["a", "b"], folding={"q": None})
    segments = [(0.1, 0.3, "b"), (0.0, 0.1, "a"), (0.3, 0.35, "q")]
    out = frame_labels(segments, 40, settings, labels)
    # Frame i's centre is 0.0125 + 0.01 i s: frames 0-8 are before 0.1 s, 9-28 before 0.3 s.
    assert (out[:9] == 1).all() and (out[9:29] == 2).all()
    assert (out[29:] == IGNORE_INDEX).all()  # q is dropped, then nothing covers the frames
    ints = frame_labels([(0.0, 0.05, 7)], 6, settings)
    assert ints.tolist() == [7, 7, 7, 7, IGNORE_INDEX, IGNORE_INDEX]
