"""Noise mixing: white, pink and babble noise at a drawn SNR, on noisy copies of the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from speech_support import tiny_corpus, tiny_data

from datamodules.speech_noise import NoiseMixing, babble, mix, pink, white
from studio.codecs.speech import read_audio
from studio.errors import StudioError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_corpus(tmp_path_factory.mktemp("speech"))


def test_mixing_reaches_the_asked_signal_to_noise_ratio() -> None:
    rng = np.random.default_rng(1)
    speech = np.sin(np.arange(16000) / 7.0)
    for noise in (white(16000, rng), pink(16000, rng), babble(16000, [rng.normal(size=5000), rng.normal(size=9000)])):
        for snr in (0.0, 10.0, 25.0):
            added = mix(speech, noise, snr) - speech
            assert 10 * np.log10(np.mean(speech**2) / np.mean(added**2)) == pytest.approx(snr, abs=1e-9)


def test_pink_noise_loses_about_3_db_an_octave_and_white_none() -> None:
    rng = np.random.default_rng(2)
    n = 1 << 16
    bands = [(256, 512), (2048, 4096)]  # three octaves apart, in FFT bins

    def level(x: np.ndarray) -> list[float]:
        power = np.abs(np.fft.rfft(x)) ** 2
        return [10 * np.log10(power[a:b].mean()) for a, b in bands]

    low, high = level(pink(n, rng))
    assert low - high == pytest.approx(9.0, abs=1.0)
    low, high = level(white(n, rng))
    assert abs(low - high) < 0.5


def test_noisy_copies_join_the_training_split_only_same_for_a_seed(corpus: Path, tmp_path: Path) -> None:
    data = tiny_data(corpus, tmp_path / "cache", noise_copies=2, noise_snr=[5, 10])
    train = data.utterances("train")
    copies = data.noisy_copies()
    assert len(copies) == 2 * len(train)
    assert [c.labels for c in copies] == [u.labels for u in train for _ in range(2)]
    assert len(data._items("train")) == 3 * len(train)
    assert data._items("val") == data.utterances("val") and data._items("test") == data.utterances("test")
    for copy, clean in zip(copies, [u for u in train for _ in range(2)]):
        noisy, _ = read_audio(copy.audio)
        original, _ = read_audio(clean.audio)
        assert noisy.shape == original.shape
        snr = 10 * np.log10(
            np.mean(original.astype(np.float64) ** 2) / np.mean((noisy - original).astype(np.float64) ** 2)
        )
        assert 5 - 0.05 <= snr <= 10 + 0.05
    kinds = {c.audio.parent.name for c in copies}
    assert kinds <= {"white", "pink", "babble"} and len(kinds) >= 2
    # The same seed gives the same files (made once); another seed other ones.
    again = tiny_data(corpus, tmp_path / "cache", noise_copies=2, noise_snr=[5, 10]).noisy_copies()
    assert [c.audio for c in again] == [c.audio for c in copies]
    other = tiny_data(corpus, tmp_path / "cache", noise_copies=2, noise_snr=[5, 10], seed=9)
    assert {c.audio for c in other.noisy_copies()}.isdisjoint({c.audio for c in copies})
    # Their features go through the store like any utterance.
    data.setup()
    assert len(data.dataset("train")) == 3 * len(train) - len(data.skipped["train"])


def test_bad_noise_settings_are_one_line_errors(corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="noise_snr"):
        tiny_data(corpus, tmp_path, noise_copies=1, noise_snr=[20, 5])
    with pytest.raises(StudioError, match="noise_kinds"):
        tiny_data(corpus, tmp_path, noise_copies=1, noise_kinds=["traffic"])
    with pytest.raises(StudioError, match="noise_copies"):
        NoiseMixing(copies=-1)
