"""SpeechCodec: the feature settings and label set a tagging checkpoint carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from studio.codecs.speech.features import FeatureSettings, extract
from studio.codecs.speech.labels import LabelSet
from studio.errors import StudioError


@dataclass
class SpeechCodec:
    """What a tagging checkpoint needs to turn audio into model input and ids back into labels."""

    features: FeatureSettings
    labels: LabelSet
    kind: ClassVar[str] = "speech"

    @property
    def num_features(self) -> int:
        """Features per frame: the model's input size."""
        return self.features.num_features

    @property
    def num_labels(self) -> int:
        """Label classes, the CTC blank at 0 included: the model's output size."""
        return len(self.labels)

    def encode_audio(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """Feature frames [frames, num_features] of mono `audio` at `sr` Hz."""
        return extract(audio, sr, self.features)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form stored in checkpoints (`torch.load(weights_only=True)` accepts it)."""
        return {"kind": self.kind, "features": self.features.to_dict(), "labels": self.labels.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpeechCodec:
        """Rebuild the codec from `to_dict()` output."""
        if (
            data.get("kind") != "speech"
            or not isinstance(data.get("features"), dict)
            or not isinstance(data.get("labels"), dict)
        ):
            raise StudioError(
                "the stored speech codec lacks its feature settings or label set: the checkpoint is damaged or from another tool"
            )
        return cls(FeatureSettings.from_dict(data["features"]), LabelSet.from_dict(data["labels"]))
