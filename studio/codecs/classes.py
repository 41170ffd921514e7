"""ClassCodec: what a sequence classifier needs to read its input and name its output, as plain data.

The input is text (a word, BPE or character vocabulary, cut to `max_len` tokens) or audio (log-mel or
MFCC frames, cut to `max_len` frames); the output is one of `labels` (or, multi-label, any of them).
Cutting keeps the start (`truncating="post"`) or, as Keras' `pad_sequences` does by default, the end
(`"pre"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import numpy as np

from studio.codecs.speech.features import FeatureSettings, extract
from studio.codecs.text import TextCodec
from studio.errors import StudioError

TRUNCATING = ("pre", "post")
# Multi-label targets are stored as one bit per class.
MAX_MULTI_LABELS = 64


@dataclass(frozen=True)
class ClassCodec:
    """Input vocabulary or features, the length cut, and the class names."""

    labels: tuple[str, ...]
    max_len: int
    truncating: str = "pre"
    multi_label: bool = False
    text: Optional[TextCodec] = None
    features: Optional[FeatureSettings] = None
    kind: ClassVar[str] = "classes"

    def __post_init__(self) -> None:
        if (self.text is None) == (self.features is None):
            raise StudioError("a classification codec reads either text or audio features: give exactly one")
        if len(self.labels) < 2 and not self.multi_label:
            raise StudioError(f"{len(self.labels)} class(es) found: a classifier needs at least 2 (check the labels)")
        if len(set(self.labels)) != len(self.labels):
            raise StudioError("the class names repeat: each class needs a name of its own")
        if self.multi_label and len(self.labels) > MAX_MULTI_LABELS:
            raise StudioError(f"{len(self.labels)} classes: multi-label data may have at most {MAX_MULTI_LABELS}")
        if isinstance(self.max_len, bool) or not isinstance(self.max_len, int) or self.max_len < 1:
            raise StudioError(f"max_len {self.max_len!r} must be a whole number >= 1, e.g. 100")
        if self.truncating not in TRUNCATING:
            raise StudioError(f"truncating {self.truncating!r} must be 'pre' (keep the end) or 'post' (keep the start)")

    @property
    def input_kind(self) -> str:
        """What a request gives: "documents" (texts) or "audio"."""
        return "documents" if self.text is not None else "audio"

    @property
    def input_size(self) -> int:
        """The model's input size: the vocabulary size, or features per frame."""
        return self.text.vocab_size if self.text is not None else self.features.num_features  # type: ignore[union-attr]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.labels)

    def cut(self, sequence: np.ndarray) -> np.ndarray:
        """At most `max_len` steps of `sequence`: its start (post) or its end (pre)."""
        if len(sequence) <= self.max_len:
            return sequence
        return sequence[-self.max_len :] if self.truncating == "pre" else sequence[: self.max_len]

    def encode_text(self, text: str) -> np.ndarray:
        """All token ids of `text` (before cutting)."""
        if self.text is None:
            raise StudioError("this classifier reads audio, not text: give it audio files")
        return np.asarray(self.text.encode(text), dtype=np.int64)

    def encode_audio(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """All feature frames [T, F] of mono `audio` at `sr` Hz (before cutting)."""
        if self.features is None:
            raise StudioError("this classifier reads text, not audio: give it text")
        return extract(audio, sr, self.features)

    def label_id(self, label: str) -> int:
        """The id of a class name; StudioError naming the classes when it is not one."""
        try:
            return self.labels.index(label)
        except ValueError:
            shown = ", ".join(self.labels[:12]) + (" ..." if len(self.labels) > 12 else "")
            raise StudioError(f"class {label!r} is not one the classifier knows ({shown})") from None

    def label_ids(self, labels: Sequence[str]) -> list[int]:
        """Ids of several class names."""
        return [self.label_id(label) for label in labels]

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` turns back into an identical codec."""
        return {
            "kind": self.kind,
            "labels": list(self.labels),
            "max_len": self.max_len,
            "truncating": self.truncating,
            "multi_label": self.multi_label,
            "text": self.text.to_dict() if self.text is not None else None,
            "features": self.features.to_dict() if self.features is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassCodec:
        """Inverse of `to_dict`."""
        if data.get("kind") != cls.kind or not isinstance(data.get("labels"), list):
            raise StudioError("the stored classification codec lacks its classes: the checkpoint is damaged")
        return cls(
            labels=tuple(str(label) for label in data["labels"]),
            max_len=data["max_len"],
            truncating=data.get("truncating", "pre"),
            multi_label=bool(data.get("multi_label", False)),
            text=TextCodec.from_dict(data["text"]) if data.get("text") else None,
            features=FeatureSettings.from_dict(data["features"]) if data.get("features") else None,
        )
