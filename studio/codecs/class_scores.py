"""Scores of class predictions from their counts: accuracy, per-class precision/recall/F1, macro-F1.

Single-label predictions are counted in a confusion matrix (rows: true class, columns: predicted);
multi-label ones as true positives, false positives and false negatives per class. Training (per
validation) and `studio evaluate` both score through these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def confusion_scores(confusion: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and each class's precision, recall, F1 and support from a [C, C] confusion matrix."""
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    per_class = _per_class(true_positive, confusion.sum(0) - true_positive, confusion.sum(1) - true_positive, labels)
    total = confusion.sum()
    return {
        "accuracy": float(true_positive.sum() / total) if total else 0.0,
        "macro_f1": _macro(per_class),
        "items": int(total),
        "per_class": per_class,
    }


def multi_label_scores(counts: np.ndarray, exact: int, items: int, labels: Sequence[str]) -> dict[str, Any]:
    """Subset accuracy (every class right), macro-F1 and per-class figures from [C, 3] (tp, fp, fn) counts."""
    counts = np.asarray(counts, dtype=np.float64)
    per_class = _per_class(counts[:, 0], counts[:, 1], counts[:, 2], labels)
    return {
        "accuracy": exact / items if items else 0.0,
        "macro_f1": _macro(per_class),
        "items": int(items),
        "per_class": per_class,
    }


def _per_class(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    found = {}
    for i, label in enumerate(labels):
        precision = tp[i] / (tp[i] + fp[i]) if tp[i] + fp[i] else 0.0
        recall = tp[i] / (tp[i] + fn[i]) if tp[i] + fn[i] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        found[label] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(tp[i] + fn[i]),
            "predicted": int(tp[i] + fp[i]),
        }
    return found


def _macro(per_class: dict[str, dict[str, float]]) -> float:
    """The mean F1 of the classes that occur in the truth or the predictions (scikit-learn's macro average)."""
    scores = [c["f1"] for c in per_class.values() if c["support"] or c["predicted"]]
    return float(np.mean(scores)) if scores else 0.0


def majority_accuracy(confusion: np.ndarray) -> float:
    """The accuracy of always answering the commonest true class (the baseline a classifier must beat)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    total = confusion.sum()
    return float(confusion.sum(1).max() / total) if total else 0.0
