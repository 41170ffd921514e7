"""The embedded speech corpus: deterministic speech-like utterances with true alignments, in TIMIT layout."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile

from datamodules.generated_folder import build_once, read_marker
from studio.codecs.speech.labels import LabelSet
from studio.errors import StudioError

# Bump when the synthesis changes, so old corpora on disk are regenerated.
GENERATOR_VERSION = 1
MARKER = ".synthetic_speech.json"
LABELS_FILE = "labels.txt"
SILENCE = "h#"


@dataclass(frozen=True)
class Phone:
    """How one phone class sounds: its kind, formants or noise band (Hz), level and duration range (ms)."""

    kind: str  # "silence", "vowel", "nasal", "fricative" or "stop"
    bands: tuple[float, ...] = ()
    level: float = 0.0
    ms: tuple[int, int] = (40, 200)


PHONES: dict[str, Phone] = {
    SILENCE: Phone("silence", ms=(100, 200)),
    "aa": Phone("vowel", (730, 1090, 2440), 0.12, (80, 200)),
    "iy": Phone("vowel", (270, 2290, 3010), 0.10, (80, 200)),
    "uw": Phone("vowel", (300, 870, 2240), 0.10, (80, 200)),
    "eh": Phone("vowel", (530, 1840, 2480), 0.11, (80, 200)),
    "m": Phone("nasal", (250, 1100), 0.045, (50, 120)),
    "n": Phone("nasal", (250, 1750), 0.045, (50, 120)),
    "s": Phone("fricative", (4200, 7600), 0.035, (70, 160)),
    "sh": Phone("fricative", (2200, 4600), 0.04, (70, 160)),
    "f": Phone("fricative", (1200, 7600), 0.012, (60, 140)),
    "t": Phone("stop", (3200, 6500), 0.06, (40, 100)),
    "k": Phone("stop", (1400, 3000), 0.06, (40, 100)),
}

# Words give the phone sequences structure; WORD_NEXT is a sparse word bigram over them.
LEXICON: tuple[tuple[str, ...], ...] = (
    ("s", "iy"),
    ("k", "aa", "t"),
    ("m", "uw", "n"),
    ("t", "eh", "n"),
    ("f", "iy", "t"),
    ("sh", "uw"),
    ("n", "aa", "m"),
    ("k", "iy", "s"),
    ("m", "eh", "sh"),
    ("s", "aa", "f"),
    ("t", "uw", "k"),
    ("f", "eh", "m"),
)
WORD_NEXT: tuple[tuple[int, ...], ...] = tuple(((i + 1) % 12, (i + 5) % 12, (i + 7) % 12) for i in range(12))


@dataclass(frozen=True)
class Speaker:
    """Voice of one synthetic speaker."""

    name: str
    f0: float
    formant_scale: float
    loudness: float
    rate: float


def labelset() -> LabelSet:
    """The label set of the synthetic corpus (h# first)."""
    return LabelSet(PHONES)


def _speaker(seed: int, index: int) -> Speaker:
    rng = np.random.default_rng([seed, index, 0])
    female = index % 2 == 0
    return Speaker(
        name=f"{'F' if female else 'M'}S{index:03d}",
        f0=float(rng.uniform(180, 240) if female else rng.uniform(95, 140)),
        formant_scale=float((1.12 if female else 1.0) * rng.uniform(0.95, 1.05)),
        loudness=float(rng.uniform(0.5, 1.3)),
        rate=float(rng.uniform(0.85, 1.15)),
    )


def _phone_sequence(rng: np.random.Generator) -> list[str]:
    phones = [SILENCE]
    word = int(rng.integers(len(LEXICON)))
    for i in range(int(rng.integers(3, 7))):
        if i and rng.random() < 0.2:
            phones.append(SILENCE)  # a short pause between words
        phones.extend(LEXICON[word])
        word = WORD_NEXT[word][int(rng.integers(3))]
    return phones + [SILENCE]


def _durations(phones: list[str], speaker: Speaker, rng: np.random.Generator, sr: int) -> np.ndarray:
    ms = np.array([rng.uniform(*PHONES[p].ms) for p in phones]) * speaker.rate
    inner = [i for i, p in enumerate(phones) if p == SILENCE and 0 < i < len(phones) - 1]
    ms[inner] = rng.uniform(40, 120, size=len(inner))
    return np.round(np.clip(ms, 40, 200) * sr / 1000).astype(np.int64)


def _glottal_source(n: int, speaker: Speaker, rng: np.random.Generator, sr: int) -> np.ndarray:
    # Falling intonation plus slow wobble; pulses where the accumulated phase crosses an integer.
    t = np.arange(n) / sr
    f0 = (
        speaker.f0
        * (1.08 - 0.16 * t / max(t[-1], 1e-9))
        * (1 + 0.03 * np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6.3)))
    )
    phase = np.cumsum(f0 / sr)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    # Two one-pole low-passes give the glottal spectrum's roughly -12 dB/octave tilt.
    return scipy.signal.lfilter([1.0], [1.0, -1.8, 0.81], pulses)


def _resonators(formants: np.ndarray, sr: int) -> np.ndarray:
    rows = []
    for f in formants:
        bw = 60.0 + 0.06 * f
        r = np.exp(-np.pi * bw / sr)
        rows.append([1 - r, 0.0, 0.0, 1.0, -2 * r * np.cos(2 * np.pi * f / sr), r * r])
    return np.array(rows)


@functools.lru_cache(maxsize=64)
def _bandpass(low: float, high: float, sr: int) -> np.ndarray:
    return scipy.signal.butter(4, [low, min(high, 0.45 * sr)], btype="bandpass", fs=sr, output="sos")


def _fit(x: np.ndarray, rms: float) -> np.ndarray:
    return x * (rms / max(float(np.sqrt(np.mean(x * x))), 1e-12))


def _ramp(n: int, sr: int) -> np.ndarray:
    k = min(n // 2, int(0.008 * sr))
    env = np.ones(n)
    edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(k) / max(k, 1))
    env[:k], env[n - k :] = edge, edge[::-1]
    return env


def _render(
    phone: str, voice: np.ndarray, noise: np.ndarray, speaker: Speaker, rng: np.random.Generator, sr: int
) -> np.ndarray:
    spec = PHONES[phone]
    n = voice.size
    level = spec.level * speaker.loudness * rng.uniform(0.85, 1.15)
    if spec.kind == "silence":
        return np.zeros(n)
    if spec.kind in ("vowel", "nasal"):
        formants = np.array(spec.bands) * speaker.formant_scale * rng.uniform(0.96, 1.04, size=len(spec.bands))
        return _fit(scipy.signal.sosfilt(_resonators(formants, sr), voice), level) * _ramp(n, sr)
    band = _bandpass(spec.bands[0] * speaker.formant_scale, spec.bands[1] * speaker.formant_scale, sr)
    if spec.kind == "fricative":
        return _fit(scipy.signal.sosfilt(band, noise), level) * _ramp(n, sr)
    # Stop: closure silence, then a decaying burst that runs into weaker aspiration.
    closure = int(n * rng.uniform(0.45, 0.6))
    release = np.arange(n - closure) / sr
    burst = scipy.signal.sosfilt(band, noise[closure:]) * (np.exp(-release / 0.012) + 0.15)
    out = np.zeros(n)
    out[closure:] = _fit(burst, level)
    return out


def synthesize(speaker: Speaker, seed: int, index: int, sr: int) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """One utterance: float samples in [-1, 1] and its true `(start, end, phone)` alignment in samples."""
    rng = np.random.default_rng([seed, speaker_index(speaker), index + 1])
    phones = _phone_sequence(rng)
    lengths = _durations(phones, speaker, rng, sr)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    voice = _glottal_source(int(bounds[-1]), speaker, rng, sr)
    noise = rng.standard_normal(int(bounds[-1]))
    audio = np.concatenate(
        [_render(p, voice[a:b], noise[a:b], speaker, rng, sr) for p, a, b in zip(phones, bounds[:-1], bounds[1:])]
    )
    audio += 0.0015 * rng.standard_normal(audio.size)  # a light noise floor, as in a quiet room
    segments = [(int(a), int(b), p) for p, a, b in zip(phones, bounds[:-1], bounds[1:])]
    return np.clip(audio, -1.0, 1.0), segments


def speaker_index(speaker: Speaker) -> int:
    """The speaker's number, read back from its name."""
    return int(speaker.name[2:])


def _params(n_speakers: int, utts_per_speaker: int, seed: int, sample_rate: int) -> dict[str, int]:
    return {
        "version": GENERATOR_VERSION,
        "n_speakers": n_speakers,
        "utts_per_speaker": utts_per_speaker,
        "seed": seed,
        "sample_rate": sample_rate,
    }


def _write_corpus(folder: Path, params: dict[str, int]) -> None:
    sr = params["sample_rate"]
    for s in range(params["n_speakers"]):
        speaker = _speaker(params["seed"], s)
        (folder / speaker.name).mkdir(parents=True)
        for u in range(params["utts_per_speaker"]):
            audio, segments = synthesize(speaker, params["seed"], u, sr)
            stem = folder / speaker.name / f"U{u:03d}"
            soundfile.write(str(stem) + ".wav", audio, sr, subtype="PCM_16", format="WAV")
            Path(str(stem) + ".phn").write_text("".join(f"{a} {b} {p}\n" for a, b, p in segments), encoding="utf-8")
    (folder / LABELS_FILE).write_text("\n".join(PHONES) + "\n", encoding="utf-8")


def generate(
    root: str | Path, n_speakers: int = 8, utts_per_speaker: int = 20, seed: int = 0, sample_rate: int = 16000
) -> Path:
    """Write the synthetic corpus under `root` (`<speaker>/<utt>.wav` + `.phn`, `labels.txt`) unless it is already there."""
    if n_speakers < 1 or utts_per_speaker < 1 or sample_rate < 8000:
        raise StudioError(
            "the synthetic speech corpus needs n_speakers >= 1, utts_per_speaker >= 1 and sample_rate >= 8000"
        )
    root = Path(root)
    params = _params(n_speakers, utts_per_speaker, seed, sample_rate)
    if root.exists() and any(root.iterdir()) and read_marker(root, MARKER) is None:
        raise StudioError(
            f"{root} is not empty and holds no synthetic speech corpus; pass a new or empty folder for it"
        )
    build_once(root, params, MARKER, lambda folder: _write_corpus(folder, params))
    return root
