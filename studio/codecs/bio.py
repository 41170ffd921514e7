"""BIO/IOB span extraction and span-level scores (conlleval and seqeval's default mode).

Labels are "O" or a one-letter prefix B-, I-, E- or S- followed by an entity type ("B-PER"). IOB1 input,
where a chunk may open with I-, and IOBES input, where E- closes a chunk and S- is a one-token chunk, are
read the way conlleval and `seqeval.metrics` (default, non-strict mode) read them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from studio.errors import StudioError

Span = tuple[str, int, int]
"""(entity type, start token index, end token index exclusive)."""

_PREFIXES = ("B", "I", "E", "S")


def label_type(label: str) -> str:
    """The entity type of a label: "B-PER" -> "PER", "O" -> "O", and an unprefixed label is its own type."""
    prefix, sep, kind = label.partition("-")
    return kind if sep and prefix in _PREFIXES else label


def _is_chunk_label(label: str) -> bool:
    prefix, sep, kind = label.partition("-")
    return bool(sep) and prefix in _PREFIXES and bool(kind)


def is_bio(labels: Iterable[str]) -> bool:
    """Whether every label is "O" or a B-/I-/E-/S- label with a type; an all-O or empty list counts as BIO."""
    return all(label == "O" or _is_chunk_label(label) for label in labels)


def spans(labels: Sequence[str]) -> list[Span]:
    """The chunks of one sentence's labels, in order, as conlleval and seqeval's default mode find them."""
    parsed: list[tuple[str, str]] = []
    for i, label in enumerate(labels):
        if label == "O":
            parsed.append(("O", ""))
        elif _is_chunk_label(label):
            parsed.append((label[0], label[2:]))
        else:
            # seqeval only warns and then reads the first character as the tag, which gives nonsense chunks.
            raise StudioError(f"label {label!r} at position {i} is neither 'O' nor B-/I-/E-/S- with a type")
    chunks: list[Span] = []
    prev_tag, prev_type, begin = "O", "", 0
    # A trailing "O" closes a chunk that runs to the end of the sentence.
    for i, (tag, kind) in enumerate([*parsed, ("O", "")]):
        ends = prev_tag in "ES" or (prev_tag in "BI" and tag in "BSO") or (prev_tag != "O" and prev_type != kind)
        starts = tag in "BS" or (tag in "IE" and prev_tag in "ESO") or (tag != "O" and prev_type != kind)
        if ends:
            chunks.append((prev_type, begin, i))
        if starts:
            begin = i
        prev_tag, prev_type = tag, kind
    return chunks


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass
class SpanScore:
    """Span counts summed over sentences, giving micro and per-type precision, recall and F1, and token accuracy."""

    true_positives: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    reference: Counter[str] = field(default_factory=Counter)
    tokens: int = 0
    correct_tokens: int = 0

    def add(self, reference: Sequence[str], predicted: Sequence[str]) -> None:
        """Count one sentence: a predicted span is correct only when its type, start and end all match."""
        if len(reference) != len(predicted):
            raise StudioError(
                f"the reference has {len(reference)} labels but the prediction has {len(predicted)}; "
                "pass the labels of the same tokens"
            )
        ref_spans, pred_spans = set(spans(reference)), set(spans(predicted))
        self.reference.update(kind for kind, _, _ in ref_spans)
        self.predicted.update(kind for kind, _, _ in pred_spans)
        self.true_positives.update(kind for kind, _, _ in ref_spans & pred_spans)
        self.tokens += len(reference)
        self.correct_tokens += sum(r == p for r, p in zip(reference, predicted))

    def merge(self, other: SpanScore) -> None:
        """Add another score's counts to this one, e.g. from another process or batch."""
        self.true_positives.update(other.true_positives)
        self.predicted.update(other.predicted)
        self.reference.update(other.reference)
        self.tokens += other.tokens
        self.correct_tokens += other.correct_tokens

    @property
    def precision(self) -> float:
        """Micro precision over all types; 0.0 when nothing was predicted."""
        return _ratio(sum(self.true_positives.values()), sum(self.predicted.values()))

    @property
    def recall(self) -> float:
        """Micro recall over all types; 0.0 when the reference has no spans."""
        return _ratio(sum(self.true_positives.values()), sum(self.reference.values()))

    @property
    def f1(self) -> float:
        """Micro F1 over all types; 0.0 when precision and recall are both 0."""
        return _f1(self.precision, self.recall)

    @property
    def token_accuracy(self) -> float:
        """The share of tokens whose predicted label equals the reference label; 0.0 with no tokens."""
        return _ratio(self.correct_tokens, self.tokens)

    def per_type(self) -> dict[str, dict[str, float]]:
        """Precision, recall, F1 and support (reference spans) of each type seen in the reference or predictions."""
        result: dict[str, dict[str, float]] = {}
        for kind in sorted(set(self.reference) | set(self.predicted)):
            precision = _ratio(self.true_positives[kind], self.predicted[kind])
            recall = _ratio(self.true_positives[kind], self.reference[kind])
            f1 = _f1(precision, recall)
            result[kind] = {"precision": precision, "recall": recall, "f1": f1, "support": self.reference[kind]}
        return result

    def as_dict(self) -> dict[str, Any]:
        """All scores and counts as plain floats, ints and dicts."""
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "token_accuracy": self.token_accuracy,
            "tokens": self.tokens,
            "correct_tokens": self.correct_tokens,
            "true_positives": sum(self.true_positives.values()),
            "predicted": sum(self.predicted.values()),
            "reference": sum(self.reference.values()),
            "per_type": self.per_type(),
        }
