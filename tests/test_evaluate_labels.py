"""Label error rate, frame accuracy and confusions on hand-made label sequences whose values are known."""

from __future__ import annotations

import numpy as np
import pytest

from studio.codecs.speech import IGNORE_INDEX
from studio.evaluation.label_errors import LabelScore, align, frame_matches


@pytest.mark.parametrize(
    ("reference", "hypothesis", "pairs"),
    [
        ([1, 2, 3], [1, 2, 3], [(1, 1), (2, 2), (3, 3)]),
        ([1, 2, 3], [1, 4, 3], [(1, 1), (2, 4), (3, 3)]),
        ([1, 2, 3], [1, 3], [(1, 1), (2, None), (3, 3)]),
        ([1, 3], [1, 2, 3], [(1, 1), (None, 2), (3, 3)]),
        ([], [5, 6], [(None, 5), (None, 6)]),
        ([5, 6], [], [(5, None), (6, None)]),
    ],
)
def test_alignment_pairs_each_label_once_with_the_fewest_edits(reference, hypothesis, pairs) -> None:
    assert align(reference, hypothesis) == pairs


def test_frame_matches_count_only_labelled_frames() -> None:
    reference = np.array([1, 1, 2, IGNORE_INDEX, 3, 3])
    hypothesis = np.array([1, 2, 2, 1, 3, 1])
    assert frame_matches(reference, hypothesis) == (3, 5)
    with pytest.raises(ValueError):
        frame_matches(reference, hypothesis[:-1])


def test_label_error_rate_and_aligned_confusions_over_utterances() -> None:
    score = LabelScore(num_labels=5)
    score.add([1, 2, 3, 4], [1, 3, 3, 4])  # one substitution: 2 -> 3
    score.add([2, 2, 1], [2, 1])  # one deletion of a 2
    score.add([4], [4, 1])  # one insertion of a 1
    assert (score.edits, score.reference_labels, score.utterances) == (3, 8, 3)
    assert score.label_error_rate == pytest.approx(3 / 8)
    assert score.frame_accuracy is None
    assert (score.deletions, score.insertions) == (1, 1)
    expected = np.zeros((5, 5), dtype=np.int64)
    for ref, hyp in [(1, 1), (2, 3), (3, 3), (4, 4), (2, 2), (1, 1), (4, 4)]:
        expected[ref, hyp] += 1
    np.testing.assert_array_equal(score.confusion, expected)
    # 2 was taken for 3 once out of its two aligned occurrences.
    assert score.most_confused() == [(2, 3, 1, 0.5)]


def test_frame_confusions_and_accuracy() -> None:
    score = LabelScore(num_labels=4, confusion_of="frames")
    reference = np.array([1, 1, 1, 1, 2, 2, IGNORE_INDEX, 3])
    hypothesis = np.array([1, 1, 2, 2, 2, 3, 3, 3])
    score.add([1, 2, 3], [1, 2, 3], reference, hypothesis)
    score.add([3], [1], np.array([3, 3]), np.array([1, 1]))
    # Right: frames 0, 1, 4 and 7 of the first utterance (frame 6 is unlabelled), none of the second.
    assert score.frame_accuracy == pytest.approx(4 / 9)
    assert score.label_error_rate == pytest.approx(1 / 4)
    assert score.confusion.sum() == 9 and np.trace(score.confusion) == 4
    # 1 -> 2 twice of its 4 frames; 3 -> 1 twice of its 3 frames; 2 -> 3 once of its 2 frames (ties by id).
    assert score.most_confused() == [(1, 2, 2, 0.5), (3, 1, 2, pytest.approx(2 / 3)), (2, 3, 1, 0.5)]
    names = ["<blank>", "a", "b", "c"]
    report = score.as_dict(names)
    assert report["most_confused"][1] == {"reference": "c", "predicted": "a", "count": 2, "share": pytest.approx(2 / 3)}
    with pytest.raises(ValueError):
        score.add([1], [1])  # a frame matrix cannot take an utterance without frames


def test_a_perfect_tagger_scores_zero_errors_and_full_accuracy() -> None:
    score = LabelScore(num_labels=3, confusion_of="frames")
    frames = np.array([1, 1, 2, 2, 2])
    score.add([1, 2], [1, 2], frames, frames.copy())
    assert score.label_error_rate == 0.0 and score.frame_accuracy == 1.0 and score.most_confused() == []
