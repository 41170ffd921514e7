"""Training-split augmentation of speech: SpecAugment masks on the features, and speed-perturbed copies of the audio.

SpecAugment (Park et al., 2019): time masks and frequency masks, as ESPnet and SpeechBrain apply them.

Masks are drawn per utterance after the feature store is read (the store keeps clean features), on
the training split only. Features are mean/variance normalised per utterance, so the mask value 0 is
the utterance's mean. With deltas the features are `blocks` blocks of the same mel bands (static,
delta, delta-delta); a frequency mask covers the same bands in every block, as masking the spectrum
before the deltas would.

Each mask's width is drawn uniformly from 0 to its maximum width and its start uniformly where it
fits (time widths are capped at `max_time_fraction` of the utterance, so short utterances keep most
of their frames). The random numbers come from the generator passed in: the data set seeds one (see
datamodules/speech_batches.py), so a seed gives the same masks.

Speed perturbation (Ko et al., 2015): `speed_copies` writes each training utterance's audio played
0.9 or 1.1 times as fast (real resampling), once, into the cache; the copies join the training split
and the feature store like any utterance, so the store still computes every feature once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from studio.codecs.speech import features as speech_features
from studio.codecs.speech.corpus import Utterance
from studio.errors import StudioError


@dataclass(frozen=True)
class SpecAugment:
    """`freq_masks` masks of up to `freq_width` bands and `time_masks` masks of up to `time_width` frames, set to `value`."""

    freq_masks: int = 0
    freq_width: int = 8
    time_masks: int = 0
    time_width: int = 20
    max_time_fraction: float = 0.2
    value: float = 0.0

    def __post_init__(self) -> None:
        """Check the settings, naming the argument at fault."""
        for name in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, name) < 0:
                raise StudioError(f"--data.init_args.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.max_time_fraction <= 1:
            raise StudioError(f"SpecAugment's max_time_fraction must be in (0, 1], got {self.max_time_fraction}")

    @property
    def active(self) -> bool:
        """Whether any mask can be drawn."""
        return (self.freq_masks > 0 and self.freq_width > 0) or (self.time_masks > 0 and self.time_width > 0)

    def draw(self, frames: int, bands: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Masked frames [frames] and masked bands [bands] as booleans, drawn from `rng`."""
        time_mask = np.zeros(frames, dtype=bool)
        band_mask = np.zeros(bands, dtype=bool)
        for _ in range(self.freq_masks):
            width = int(rng.integers(0, min(self.freq_width, bands) + 1))
            start = int(rng.integers(0, bands - width + 1))
            band_mask[start : start + width] = True
        widest = min(self.time_width, int(self.max_time_fraction * frames))
        for _ in range(self.time_masks):
            width = int(rng.integers(0, widest + 1))
            start = int(rng.integers(0, frames - width + 1))
            time_mask[start : start + width] = True
        return time_mask, band_mask

    def __call__(self, features: np.ndarray, rng: np.random.Generator, blocks: int = 1) -> np.ndarray:
        """`features` [T, F] (F = `blocks` x bands) with masks drawn from `rng` set to `value`, in place; returned."""
        frames, width = features.shape
        if width % blocks:
            raise StudioError(f"{width} features do not split into {blocks} equal blocks of bands")
        time_mask, band_mask = self.draw(frames, width // blocks, rng)
        features[time_mask] = self.value
        features[:, np.tile(band_mask, blocks)] = self.value
        return features


def speed_copies(utterances: Sequence[Utterance], factors: Sequence[float], folder: Path) -> list[Utterance]:
    """Copies of `utterances` played `factor` times as fast (Kaldi's and ESPnet's speed perturbation), once each.

    Real resampling: a copy at 0.9 is 1/0.9 as long and its pitch lower, as `sox speed 0.9` gives.
    The audio is written once under `folder` (named by the source's path, size and time, so a changed
    source gets a new copy) and then goes through the feature store like any utterance; alignments
    are stretched with it. The store computes their features once, as it does the rest.
    """
    copies = []
    for utt in utterances:
        stat = utt.audio.stat()
        source = f"{utt.audio.resolve()}\t{stat.st_size}\t{stat.st_mtime_ns}"
        name = hashlib.sha256(source.encode()).hexdigest()[:20]
        samples: Optional[tuple[np.ndarray, int]] = None
        for factor in factors:
            path = folder / f"speed{factor:g}" / f"{name}.wav"
            if not path.is_file():
                if samples is None:
                    samples = speech_features.read_audio(utt.audio)
                audio, sr = samples
                import soundfile  # only when a copy is written: importing the data module stays cheap

                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                soundfile.write(str(tmp), speech_features.resample(audio, round(sr * factor), sr), sr, format="WAV")
                os.replace(tmp, path)  # whole or absent, for another process preparing the same copy
            segments = [(a / factor, b / factor, label) for a, b, label in utt.segments] if utt.segments else None
            copies.append(Utterance(path, utt.labels, segments, utt.speaker))
    return copies


def check_speed_factors(factors: Sequence[float]) -> tuple[float, ...]:
    """The speed factors, checked: each in [0.5, 2], none 1 (the original is always there)."""
    for factor in factors:
        if not 0.5 <= factor <= 2 or factor == 1:
            raise StudioError(f"--data.init_args.speed_perturb {factor} must be in [0.5, 2] and not 1, e.g. [0.9, 1.1]")
    return tuple(float(f) for f in factors)
