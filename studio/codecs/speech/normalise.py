"""Global CMVN: one mean and standard deviation per feature over a whole training set, summed in a stream.

Per-utterance CMVN (`FeatureSettings.cmvn`) normalises each clip by its own statistics. Global CMVN
(as Kaldi's `compute-cmvn-stats` over a training set, or ESPnet's `global_mvn`) normalises every clip
by the training set's: `Moments` adds up counts, sums and sums of squares in float64 a block of frames
at a time, so memory stays one feature vector whatever the corpus. The result, `GlobalCMVN`, is plain
data inside the speech codec, so a checkpoint normalises new audio exactly as its training data was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.codecs.speech.features import CMVN_STD_FLOOR
from studio.errors import StudioError


@dataclass(frozen=True)
class GlobalCMVN:
    """Per-feature mean and standard deviation of the training frames; `apply` maps frames to zero mean, unit variance."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise StudioError("the stored global CMVN statistics are damaged: mean and std differ in length")
        if not all(np.isfinite(self.mean)) or not all(s > 0 for s in self.std):
            raise StudioError(
                "the stored global CMVN statistics are damaged: a mean is not finite or a std not positive"
            )

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """`frames` [T, F] normalised (float32); F must match the statistics."""
        if frames.shape[-1] != len(self.mean):
            raise StudioError(
                f"{frames.shape[-1]} features per frame, but the global CMVN statistics have {len(self.mean)}"
            )
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        return ((frames - mean) / std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists of floats) for checkpoints."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: Any) -> GlobalCMVN:
        """Rebuild from `to_dict()` output."""
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("mean"), list)
            or not isinstance(data.get("std"), list)
        ):
            raise StudioError("the stored global CMVN statistics are damaged: expected lists `mean` and `std`")
        return cls(tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))


@dataclass
class Moments:
    """Running count, sum and sum of squares of feature frames (float64), added a block at a time."""

    count: int = 0
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))
    squares: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, frames: np.ndarray) -> None:
        """Add a block of frames [T, F]."""
        if frames.shape[0] == 0:
            return
        block = np.asarray(frames, dtype=np.float64)
        if self.count == 0:
            self.total, self.squares = np.zeros(block.shape[1]), np.zeros(block.shape[1])
        self.count += block.shape[0]
        self.total += block.sum(axis=0)
        self.squares += np.square(block).sum(axis=0)

    def result(self) -> GlobalCMVN:
        """The mean and standard deviation (floored) of everything added."""
        if self.count == 0:
            raise StudioError("global CMVN has no training frames to compute its statistics from")
        mean = self.total / self.count
        var = np.maximum(self.squares / self.count - np.square(mean), 0.0)
        std = np.maximum(np.sqrt(var), CMVN_STD_FLOOR)
        return GlobalCMVN(tuple(mean.tolist()), tuple(std.tolist()))
