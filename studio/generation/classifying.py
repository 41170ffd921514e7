"""Class predictions of a sequence classifier: texts or clips encoded, cut to max_len, batched by length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

from studio.codecs.classes import ClassCodec
from studio.generation.decoding import Progress, evaluating
from studio.generation.inputs import AudioClip, TextItem

BATCH = 64


@dataclass(frozen=True)
class Prediction:
    """One input's predicted class (several, joined by commas, for multi-label) and every class's probability."""

    name: str
    label: str
    probabilities: dict[str, float]
    steps: int
    cut_from: Optional[int] = None

    def top(self, k: int) -> list[tuple[str, float]]:
        """The `k` likeliest classes with their probabilities."""
        return sorted(self.probabilities.items(), key=lambda item: -item[1])[:k]


def encoded(codec: ClassCodec, item: Any) -> np.ndarray:
    """An input's ids or frames, before cutting."""
    if isinstance(item, AudioClip):
        return codec.encode_audio(item.samples, item.sample_rate)
    assert isinstance(item, TextItem)
    return codec.encode_text(item.text)


def classify(
    model: Any, codec: ClassCodec, items: Sequence[Any], threshold: float = 0.5, progress: Optional[Progress] = None
) -> list[Prediction]:
    """A prediction per item, in order; items are batched by length so padding costs little."""
    sequences = [encoded(codec, item) for item in items]
    order = np.argsort([min(len(s), codec.max_len) for s in sequences], kind="stable")
    found: list[Optional[Prediction]] = [None] * len(items)
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            cut = [codec.cut(sequences[i]) for i in chosen]
            lengths = torch.tensor([max(len(c), 1) for c in cut])
            inputs = _padded(cut, codec, int(lengths.max())).to(device)
            probabilities = model.probabilities(model(inputs, lengths)).cpu().numpy()
            for i, p in zip(chosen, probabilities):
                found[i] = _prediction(codec, items[i].name, p, threshold, len(sequences[i]))
            if progress is not None:
                progress(min(start + BATCH, len(order)) / len(order), min(start + BATCH, len(order)))
    return [p for p in found if p is not None]


def _padded(cut: list[np.ndarray], codec: ClassCodec, steps: int) -> torch.Tensor:
    if codec.features is None:
        inputs = torch.zeros(len(cut), steps, dtype=torch.long)
    else:
        inputs = torch.zeros(len(cut), steps, codec.features.num_features)
    for row, values in enumerate(cut):
        inputs[row, : len(values)] = torch.as_tensor(np.asarray(values), dtype=inputs.dtype)
    return inputs


def _prediction(codec: ClassCodec, name: str, p: np.ndarray, threshold: float, steps: int) -> Prediction:
    probabilities = {label: round(float(q), 6) for label, q in zip(codec.labels, p)}
    if codec.multi_label:
        label = ",".join(lab for lab, q in zip(codec.labels, p) if q >= threshold) or "(none)"
    else:
        label = codec.labels[int(np.argmax(p))]
    cut_from = steps if steps > codec.max_len else None
    return Prediction(name, label, probabilities, min(steps, codec.max_len), cut_from)
