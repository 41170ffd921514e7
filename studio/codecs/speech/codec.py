"""SpeechCodec: the feature settings and label set a tagging checkpoint carries, with the training data's global
CMVN statistics and label n-gram when the run made them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import numpy as np

from studio.codecs.speech.features import FeatureSettings, extract
from studio.codecs.speech.labels import LabelSet
from studio.codecs.speech.ngram import LabelNgram
from studio.codecs.speech.normalise import GlobalCMVN
from studio.errors import StudioError


@dataclass
class SpeechCodec:
    """What a tagging checkpoint needs to turn audio into model input and ids back into labels."""

    features: FeatureSettings
    labels: LabelSet
    global_cmvn: Optional[GlobalCMVN] = None  # the training frames' statistics, applied after `features`
    lm: Optional[LabelNgram] = None  # counted over the training transcripts, for CTC beam search
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
        """Feature frames [frames, num_features] of mono `audio` at `sr` Hz, globally normalised when trained so."""
        frames = extract(audio, sr, self.features)
        return self.global_cmvn.apply(frames) if self.global_cmvn is not None else frames

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form stored in checkpoints (`torch.load(weights_only=True)` accepts it)."""
        data = {"kind": self.kind, "features": self.features.to_dict(), "labels": self.labels.to_dict()}
        if self.global_cmvn is not None:
            data["global_cmvn"] = self.global_cmvn.to_dict()
        if self.lm is not None:
            data["lm"] = self.lm.to_dict()
        return data

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
        stats = GlobalCMVN.from_dict(data["global_cmvn"]) if data.get("global_cmvn") is not None else None
        lm = LabelNgram.from_dict(data["lm"]) if data.get("lm") is not None else None
        codec = cls(FeatureSettings.from_dict(data["features"]), LabelSet.from_dict(data["labels"]), stats, lm)
        if stats is not None and len(stats.mean) != codec.num_features:
            raise StudioError(
                "the stored global CMVN statistics do not match the feature settings: the checkpoint is damaged"
            )
        return codec
