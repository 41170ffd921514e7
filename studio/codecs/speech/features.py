"""Speech features: log-mel or MFCC frames with deltas and per-utterance CMVN, in pure numpy/scipy."""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.errors import StudioError
from studio.resources import check_memory

if TYPE_CHECKING:
    from studio.codecs.speech.labels import LabelSet

KINDS = ("logmel", "mfcc")
PRE_EMPHASIS = 0.97
# Kaldi's default lower edge: the first mel bands below 20 Hz would hold no FFT bin at 16 kHz.
MEL_FMIN_HZ = 20.0
LOG_FLOOR = 1e-10
CMVN_STD_FLOOR = 1e-8
DELTA_WINDOW = 2
# PyTorch's cross-entropy default, so unlabelled frames drop out of the loss without extra arguments.
IGNORE_INDEX = -100
# Memory checked before it is taken, in bytes: reading holds each channel's float32 samples and their mono mix;
# features hold a float64 copy of each channel and the mix (per sample read), then per sample at the feature
# rate the pre-emphasised signal, each frame's window (2.5 samples a sample at 25/10 ms), its spectrum and power
# (at 16 kHz mono 79 bytes a sample were measured at the peak; the estimate allows 112).
READ_BYTES_PER_SAMPLE = 4
COPY_BYTES_PER_SAMPLE = 8
FEATURE_BYTES_PER_SAMPLE = 96
CUT_IT = "cut the recording into shorter clips (e.g. `ffmpeg -i long.wav -f segment -segment_time 600 part%03d.wav`)"


@dataclass
class FeatureSettings:
    """How audio becomes feature frames; stored in checkpoints as plain data."""

    sample_rate: int = 16000
    kind: str = "logmel"
    n_mels: int = 40
    n_mfcc: int = 13
    window_ms: float = 25.0
    hop_ms: float = 10.0
    deltas: int = 2
    cmvn: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise StudioError(f"unknown speech feature kind {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.deltas not in (0, 1, 2):
            raise StudioError(f"deltas={self.deltas!r} is not supported; use 0, 1 or 2 orders of deltas")
        for name in ("sample_rate", "n_mels", "n_mfcc", "window_ms", "hop_ms"):
            if not getattr(self, name) > 0:
                raise StudioError(f"speech feature setting {name}={getattr(self, name)!r} must be positive")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise StudioError(f"n_mfcc={self.n_mfcc} is larger than n_mels={self.n_mels}; lower n_mfcc or raise n_mels")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (ints, floats, str, bool) that `torch.load(weights_only=True)` accepts."""
        return {
            "sample_rate": int(self.sample_rate),
            "kind": str(self.kind),
            "n_mels": int(self.n_mels),
            "n_mfcc": int(self.n_mfcc),
            # Floats always, so 25 and 25.0 give the same cache key.
            "window_ms": float(self.window_ms),
            "hop_ms": float(self.hop_ms),
            "deltas": int(self.deltas),
            "cmvn": bool(self.cmvn),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSettings:
        """Rebuild settings from `to_dict()` output, rejecting unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StudioError(f"unknown speech feature settings {unknown}; known ones are {sorted(known)}")
        return cls(**data)

    @property
    def win_length(self) -> int:
        """Window length in samples."""
        return int(round(self.sample_rate * self.window_ms / 1000))

    @property
    def hop_length(self) -> int:
        """Hop between frame starts in samples."""
        return max(1, int(round(self.sample_rate * self.hop_ms / 1000)))

    @property
    def n_fft(self) -> int:
        """FFT size: the next power of two that holds a window."""
        return 1 << max(0, math.ceil(math.log2(self.win_length)))

    @property
    def num_base_features(self) -> int:
        """Features per frame before deltas."""
        return self.n_mels if self.kind == "logmel" else self.n_mfcc

    @property
    def num_features(self) -> int:
        """Features per frame, deltas included."""
        return self.num_base_features * (1 + self.deltas)

    def num_frames(self, num_samples: int) -> int:
        """Frames for `num_samples` samples at `sample_rate` (a short clip is padded to one window)."""
        if num_samples <= 0:
            return 0
        return 1 + max(0, num_samples - self.win_length) // self.hop_length

    def frame_times(self, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end time in seconds of each of `n_frames` frames."""
        starts = np.arange(n_frames, dtype=np.float64) * self.hop_length / self.sample_rate
        return starts, starts + self.win_length / self.sample_rate


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Read an audio file as mono float32 samples and its sample rate."""
    path = Path(path)
    if not path.is_file():
        raise StudioError(f"audio file {path} not found; check the path or remove it from the corpus")
    try:
        import soundfile  # imported when audio is read: a text sample never needs it

        with soundfile.SoundFile(str(path)) as audio:  # its header says what reading it will hold
            seconds = audio.frames / max(audio.samplerate, 1)
            needed = audio.frames * (audio.channels + 1) * READ_BYTES_PER_SAMPLE
            check_memory(f"reading {path} ({seconds:,.0f} s of audio, {audio.channels} channel(s))", needed, CUT_IT)
            data, sr = audio.read(dtype="float32", always_2d=True), audio.samplerate
    except (RuntimeError, OSError, ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())
        raise StudioError(
            f"cannot read audio file {path} ({reason}); convert it to WAV or FLAC "
            f"(e.g. `ffmpeg -i {path.name} -ac 1 out.wav`) or remove it from the corpus"
        ) from None
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(sr)


def resample(audio: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling from `sr_in` to `sr_out` Hz."""
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} and {sr_out}")
    if sr_in == sr_out or audio.size == 0:
        return audio
    g = math.gcd(int(sr_in), int(sr_out))
    import scipy.signal  # over a second to import: only when audio is resampled

    return scipy.signal.resample_poly(audio, sr_out // g, sr_in // g)


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Triangular HTK-mel filters, shape [n_mels, n_fft // 2 + 1]."""
    edges = _mel_to_hz(np.linspace(_hz_to_mel(MEL_FMIN_HZ), _hz_to_mel(sample_rate / 2), n_mels + 2))
    # Triangles in the mel domain over each bin's exact mel position, so narrow low bands still catch a bin.
    bin_mel = _hz_to_mel(np.arange(n_fft // 2 + 1) * sample_rate / n_fft)
    edge_mel = _hz_to_mel(edges)
    left, centre, right = edge_mel[:-2, None], edge_mel[1:-1, None], edge_mel[2:, None]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    bank.setflags(write=False)
    return bank


def add_deltas(feats: np.ndarray, order: int) -> np.ndarray:
    """Append `order` orders of regression deltas (window ±2 frames) to [frames, features]."""
    blocks = [feats]
    for _ in range(order):
        blocks.append(_delta(blocks[-1]))
    return np.concatenate(blocks, axis=1)


def _delta(x: np.ndarray) -> np.ndarray:
    n = DELTA_WINDOW
    t = x.shape[0]
    padded = np.pad(x, ((n, n), (0, 0)), mode="edge")
    out = np.zeros_like(x)
    for k in range(1, n + 1):
        out += k * (padded[n + k : n + k + t] - padded[n - k : n - k + t])
    return out / (2 * sum(k * k for k in range(1, n + 1)))


def apply_cmvn(feats: np.ndarray) -> np.ndarray:
    """Per-utterance normalization of every feature to zero mean and unit variance."""
    if feats.shape[0] == 0:
        return feats
    mean = feats.mean(axis=0)
    std = feats.std(axis=0)
    return (feats - mean) / np.maximum(std, CMVN_STD_FLOOR)


def extract(audio: np.ndarray, sr: int, settings: FeatureSettings) -> np.ndarray:
    """Feature frames [frames, settings.num_features] (float32) for mono `audio` at `sr` Hz."""
    shape = np.shape(audio)
    samples, channels = (shape[0], shape[1] if len(shape) == 2 else 1) if shape else (0, 1)
    check_memory(
        f"computing the features of {samples / max(sr, 1):,.0f} s of audio",
        samples * (channels + 1) * COPY_BYTES_PER_SAMPLE
        + samples * settings.sample_rate / max(sr, 1) * FEATURE_BYTES_PER_SAMPLE,
        CUT_IT,
    )
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)  # soundfile's [samples, channels] layout
    if x.ndim != 1:
        raise ValueError(f"audio must be 1-D (or [samples, channels]), got shape {x.shape}")
    x = resample(x, sr, settings.sample_rate)
    if x.size == 0:
        return np.zeros((0, settings.num_features), dtype=np.float32)
    x = np.concatenate([x[:1], x[1:] - PRE_EMPHASIS * x[:-1]])
    win = settings.win_length
    if x.size < win:
        x = np.pad(x, (0, win - x.size))
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[:: settings.hop_length]
    import scipy.fft
    import scipy.signal

    window = scipy.signal.get_window("hann", win, fftbins=True)
    spectrum = scipy.fft.rfft(frames * window, n=settings.n_fft, axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    feats = np.log(
        np.maximum(power @ mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels).T, LOG_FLOOR)
    )
    if settings.kind == "mfcc":
        feats = scipy.fft.dct(feats, type=2, norm="ortho", axis=1)[:, : settings.n_mfcc]
    feats = add_deltas(feats, settings.deltas)
    if settings.cmvn:
        feats = apply_cmvn(feats)
    return feats.astype(np.float32)


def frame_labels(
    segments: Sequence[tuple[float, float, str | int]],
    n_frames: int,
    settings: FeatureSettings,
    labels: LabelSet | None = None,
    fill: int = IGNORE_INDEX,
) -> np.ndarray:
    """Label id of the segment covering each frame's centre; `fill` where none does or the label is dropped."""
    out = np.full(n_frames, fill, dtype=np.int64)
    if not segments or n_frames == 0:
        return out
    ordered = sorted(segments, key=lambda seg: seg[0])
    seg_starts = np.array([seg[0] for seg in ordered], dtype=np.float64)
    seg_ends = np.array([seg[1] for seg in ordered], dtype=np.float64)
    ids = np.array([_label_id(seg[2], labels, fill) for seg in ordered], dtype=np.int64)
    starts, ends = settings.frame_times(n_frames)
    centres = (starts + ends) / 2
    idx = np.searchsorted(seg_starts, centres, side="right") - 1
    safe = np.clip(idx, 0, None)
    covered = (idx >= 0) & (centres < seg_ends[safe])
    out[covered] = ids[safe[covered]]
    return out


def _label_id(label: str | int, labels: LabelSet | None, fill: int) -> int:
    if isinstance(label, (int, np.integer)):
        return int(label)
    if labels is None:
        raise TypeError(f"segment label {label!r} is a string: pass labels=LabelSet(...) to encode it")
    found = labels.id_of(label)
    return fill if found is None else found
