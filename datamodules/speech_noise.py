"""Noise mixing for the training split: noisy copies of its audio at a random signal-to-noise ratio, made once.

Each copy mixes an utterance with white noise, pink noise (power falling as 1/f) or babble (the sum
of a few other training utterances, looped to length), scaled so that the speech-to-noise power
ratio is a signal-to-noise ratio drawn uniformly from `snr_db`. As Kaldi's and ESPnet's augmented
copies are, the copies are written once into the cache and join the training split and the feature
store like any utterance (their features are computed once). Validation and test never see them.
Kinds, ratios and babble voices come from a generator seeded by the run's seed and the utterance, so
the same seed gives the same copies.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.codecs.speech import features as speech_features
from studio.codecs.speech.corpus import Utterance
from studio.errors import StudioError

KINDS = ("white", "pink", "babble")


@dataclass(frozen=True)
class NoiseMixing:
    """`copies` noisy copies of each training utterance, at SNRs in `snr_db` (low, high), of the noise `kinds`."""

    copies: int = 0
    snr_db: tuple[float, ...] = (5.0, 20.0)
    kinds: tuple[str, ...] = KINDS
    babble_voices: int = 3

    def __post_init__(self) -> None:
        """Check the settings, naming the argument at fault."""
        if self.copies < 0:
            raise StudioError(f"--data.init_args.noise_copies {self.copies} must be >= 0 (0: no noise mixing)")
        if len(self.snr_db) != 2 or not self.snr_db[0] <= self.snr_db[1]:
            raise StudioError(f"--data.init_args.noise_snr {list(self.snr_db)} must be [low, high] in dB, e.g. [5, 20]")
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise StudioError(f"--data.init_args.noise_kinds {list(self.kinds)}: choose some of {', '.join(KINDS)}")
        if self.babble_voices < 1:
            raise StudioError(f"babble needs at least one voice, got {self.babble_voices}")


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian white noise of `n` samples."""
    return rng.standard_normal(n)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise of `n` samples: white noise shaped to power 1/f in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    scale = np.ones(spectrum.shape[0])
    scale[1:] = 1.0 / np.sqrt(np.arange(1, spectrum.shape[0]))
    return np.fft.irfft(spectrum * scale, max(n, 2))[:n]


def babble(n: int, voices: Sequence[np.ndarray]) -> np.ndarray:
    """The sum of `voices`, each looped to `n` samples and scaled to unit power."""
    out = np.zeros(n)
    for voice in voices:
        looped = np.resize(np.asarray(voice, dtype=np.float64), n) if voice.size else np.zeros(n)
        out += looped / np.sqrt(np.mean(np.square(looped)) + 1e-12)
    return out


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`speech` plus `noise` scaled so that their power ratio is `snr_db` decibels."""
    speech = np.asarray(speech, dtype=np.float64)
    power_speech, power_noise = np.mean(np.square(speech)), np.mean(np.square(noise))
    if power_speech == 0 or power_noise == 0:
        return speech
    return speech + noise * np.sqrt(power_speech / (power_noise * 10 ** (snr_db / 10)))


def noisy_copies(utterances: Sequence[Utterance], mixing: NoiseMixing, folder: Path, seed: int) -> list[Utterance]:
    """`mixing.copies` noisy copies of each of `utterances` (babble from the others), written once under `folder`."""
    if mixing.copies == 0 or not utterances:
        return []
    names = [_source_name(utt) for utt in utterances]
    copies = []
    for index, (utt, name) in enumerate(zip(utterances, names)):
        for copy in range(mixing.copies):
            rng = np.random.default_rng([seed, int(name[:12], 16), copy])
            kind = mixing.kinds[int(rng.integers(len(mixing.kinds)))]
            snr = float(rng.uniform(mixing.snr_db[0], mixing.snr_db[-1]))
            chosen = _babble_voices(utterances, index, mixing.babble_voices, rng) if kind == "babble" else []
            identity = f"{name}\t{copy}\t{kind}\t{snr:.6f}\t{seed}\t" + ",".join(names[i] for i in chosen)
            path = folder / kind / f"{hashlib.sha256(identity.encode()).hexdigest()[:20]}.wav"
            if not path.is_file():
                audio, sr = speech_features.read_audio(utt.audio)
                if kind == "babble":
                    noise = babble(audio.size, [_read_at(utterances[i].audio, sr) for i in chosen])
                else:
                    noise = white(audio.size, rng) if kind == "white" else pink(audio.size, rng)
                _write(path, mix(audio, noise, snr), sr)
            copies.append(Utterance(path, utt.labels, utt.segments, utt.speaker))
    return copies


def _babble_voices(utterances: Sequence[Utterance], index: int, voices: int, rng: np.random.Generator) -> list[int]:
    """Up to `voices` other utterances, by other speakers where a few draws find them."""
    chosen: list[int] = []
    for _ in range(20 * voices):
        pick = int(rng.integers(len(utterances)))
        if pick != index and pick not in chosen and utterances[pick].speaker != utterances[index].speaker:
            chosen.append(pick)
            if len(chosen) == voices:
                break
    return chosen or [i for i in range(min(len(utterances), 2)) if i != index][:1]


def _source_name(utt: Utterance) -> str:
    """A digest naming an utterance's audio as it is now (path, size, time): a changed file gets new copies."""
    stat = utt.audio.stat()
    return hashlib.sha256(f"{utt.audio.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}".encode()).hexdigest()


def _read_at(path: Path, sr: int) -> np.ndarray:
    audio, rate = speech_features.read_audio(path)
    return speech_features.resample(audio, rate, sr)


def _write(path: Path, audio: np.ndarray, sr: int) -> None:
    """Whole or absent, for another process preparing the same copy; float samples, so loud mixes do not clip."""
    import soundfile  # only when a copy is written: importing the data module stays cheap

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    soundfile.write(str(tmp), audio.astype(np.float32), sr, format="WAV", subtype="FLOAT")
    os.replace(tmp, path)
