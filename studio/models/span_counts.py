"""SpanCounts: a word tagger's loss, right words and (BIO tags) right spans over a split, summed across ranks."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from studio.codecs.bio import is_bio, label_type, spans

IGNORE = -100


class SpanCounts(Metric):
    """Summed loss and words, words tagged right, and per entity type: spans right, predicted and in the reference."""

    full_state_update = False
    loss_sum: torch.Tensor
    words: torch.Tensor
    correct: torch.Tensor
    spans: torch.Tensor

    def __init__(self, labels: list[str]) -> None:
        super().__init__()
        self.labels = labels
        self.scored = is_bio(labels) and any(label != "O" for label in labels)
        self.types = sorted({label_type(label) for label in labels if label != "O"}) if self.scored else []
        self.add_state("loss_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("words", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("correct", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state(
            "spans", default=torch.zeros((max(len(self.types), 1), 3), dtype=torch.long), dist_reduce_fx="sum"
        )

    def update(self, loss: torch.Tensor, predicted: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch: its mean loss per word, predicted and true tag ids [B, T] (IGNORE past each end), and lengths [B]."""
        real = labels != IGNORE
        self.loss_sum += loss.detach().double() * real.sum()
        self.words += real.sum()
        self.correct += ((predicted == labels) & real).sum()
        if not self.scored:
            return
        index = {kind: i for i, kind in enumerate(self.types)}
        for guess, truth, n in zip(predicted.cpu().tolist(), labels.cpu().tolist(), lengths.cpu().tolist()):
            reference = set(spans([self.labels[t] for t in truth[:n]]))
            found = set(spans([self.labels[g] for g in guess[:n]]))
            for kind, _, _ in found & reference:
                self.spans[index[kind], 0] += 1
            for kind, _, _ in found:
                self.spans[index[kind], 1] += 1
            for kind, _, _ in reference:
                self.spans[index[kind], 2] += 1

    def compute(self) -> torch.Tensor:
        """The mean loss per word."""
        return (self.loss_sum / self.words.clamp_min(1)).float()

    def summary(self) -> dict[str, torch.Tensor]:
        """loss, acc (words tagged right) and, for BIO tags, span_f1 (micro over entity types)."""
        values = {"loss": self.compute(), "acc": (self.correct.double() / self.words.clamp_min(1)).float()}
        if self.scored:
            right, predicted, reference = self.spans.sum(0).double()
            precision = right / predicted.clamp_min(1)
            recall = right / reference.clamp_min(1)
            values["span_f1"] = (2 * precision * recall / (precision + recall).clamp_min(1e-12)).float()
        return values
