"""Scores of predicted label sequences against reference ones: label error rate, frame accuracy, confusions.

Pure counting over label ids (no model, no audio), so the numbers can be checked by hand. `LabelScore`
adds utterances one at a time and keeps only counts, so a corpus of any size costs a label-by-label
matrix of memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from studio.codecs.speech import IGNORE_INDEX
from studio.codecs.speech.ctc import edit_distance

# An aligned pair (reference label, predicted label); None marks a deletion (no prediction) or an insertion.
Pair = tuple[Optional[int], Optional[int]]


def align(reference: Sequence[int], hypothesis: Sequence[int]) -> list[Pair]:
    """A least-edit alignment of two label sequences (Levenshtein, ties: match/substitute, delete, insert)."""
    ref, hyp = list(reference), list(hypothesis)
    cost = np.zeros((len(ref) + 1, len(hyp) + 1), dtype=np.int64)
    cost[:, 0] = np.arange(len(ref) + 1)
    cost[0, :] = np.arange(len(hyp) + 1)
    for i in range(1, len(ref) + 1):
        for j in range(1, len(hyp) + 1):
            cost[i, j] = min(cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs: list[Pair] = []
    i, j = len(ref), len(hyp)
    while i or j:
        if i and j and cost[i, j] == cost[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((ref[i - 1], hyp[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i, j] == cost[i - 1, j] + 1:
            pairs.append((ref[i - 1], None))
            i -= 1
        else:
            pairs.append((None, hyp[j - 1]))
            j -= 1
    return pairs[::-1]


def frame_matches(reference: np.ndarray, hypothesis: np.ndarray) -> tuple[int, int]:
    """(correct, counted) frames: frames whose reference is IGNORE_INDEX (unlabelled, dropped) are not counted."""
    ref, hyp = np.asarray(reference), np.asarray(hypothesis)
    if ref.shape != hyp.shape:
        raise ValueError(f"frame label arrays differ in length: {ref.shape} and {hyp.shape}")
    counted = ref != IGNORE_INDEX
    return int((ref[counted] == hyp[counted]).sum()), int(counted.sum())


@dataclass
class LabelScore:
    """Counts over a corpus: label edits, reference labels, frames, and a reference-by-predicted confusion matrix.

    The confusion matrix counts frames (`confusion_of="frames"`: every utterance brings frame labels, as
    framewise taggers on aligned references do) or the pairs of the label-sequence alignment ("labels").
    """

    num_labels: int
    confusion_of: str = "labels"
    edits: int = 0
    reference_labels: int = 0
    correct_frames: int = 0
    counted_frames: int = 0
    deletions: int = 0  # reference labels the alignment pairs with nothing (sequence confusions only)
    insertions: int = 0
    utterances: int = 0
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if self.confusion_of not in ("frames", "labels"):
            raise ValueError(f"confusion_of must be 'frames' or 'labels', not {self.confusion_of!r}")
        self.confusion = np.zeros((self.num_labels, self.num_labels), dtype=np.int64)

    def add(
        self,
        reference: Sequence[int],
        hypothesis: Sequence[int],
        reference_frames: Optional[np.ndarray] = None,
        hypothesis_frames: Optional[np.ndarray] = None,
    ) -> None:
        """Count one utterance: its label sequences, and its frame labels when both are given."""
        self.utterances += 1
        self.edits += edit_distance(reference, hypothesis)
        self.reference_labels += len(reference)
        if reference_frames is not None and hypothesis_frames is not None:
            correct, counted = frame_matches(reference_frames, hypothesis_frames)
            self.correct_frames += correct
            self.counted_frames += counted
        if self.confusion_of == "frames":
            if reference_frames is None or hypothesis_frames is None:
                raise ValueError("a frame confusion matrix needs the frame labels of every utterance")
            keep = (reference_frames != IGNORE_INDEX) & (hypothesis_frames != IGNORE_INDEX)
            np.add.at(self.confusion, (reference_frames[keep], hypothesis_frames[keep]), 1)
        elif self.confusion_of == "labels":
            for ref, hyp in align(reference, hypothesis):
                if ref is None:
                    self.insertions += 1
                elif hyp is None:
                    self.deletions += 1
                else:
                    self.confusion[ref, hyp] += 1

    @property
    def label_error_rate(self) -> float:
        """Label edits (substitutions, insertions, deletions) per reference label."""
        return self.edits / self.reference_labels if self.reference_labels else float("nan")

    @property
    def frame_accuracy(self) -> Optional[float]:
        """Share of labelled frames tagged right; None when no utterance had frame labels on both sides."""
        return self.correct_frames / self.counted_frames if self.counted_frames else None

    def most_confused(self, top: int = 10) -> list[tuple[int, int, int, float]]:
        """(reference, predicted, count, share of the reference label's total) of the largest off-diagonal cells."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(-off, axis=None, kind="stable")[:top]
        totals = self.confusion.sum(axis=1)
        found = []
        for flat in order:
            ref, hyp = divmod(int(flat), self.num_labels)
            if off[ref, hyp] == 0:
                break
            found.append((ref, hyp, int(off[ref, hyp]), float(off[ref, hyp] / totals[ref])))
        return found

    def as_dict(self, names: Sequence[str]) -> dict[str, Any]:
        """Plain data for reports; `names` are the label names by id."""
        return {
            "utterances": self.utterances,
            "reference_labels": self.reference_labels,
            "edits": self.edits,
            "label_error_rate": self.label_error_rate,
            "frames": self.counted_frames,
            "frame_accuracy": self.frame_accuracy,
            "confusion_of": self.confusion_of,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "most_confused": [
                {"reference": names[r], "predicted": names[h], "count": n, "share": share}
                for r, h, n, share in self.most_confused()
            ],
            "labels": list(names),
            "confusion": self.confusion.tolist(),
        }
