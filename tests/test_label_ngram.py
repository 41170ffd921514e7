"""The label n-gram and its shallow fusion in CTC prefix beam search."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.codecs.speech.ctc import prefix_beam_search
from studio.codecs.speech.ngram import BOUNDARY, LabelNgram
from studio.errors import StudioError


def _frames(*rows: dict[int, float], labels: int = 4) -> np.ndarray:
    """Log-probabilities [T, labels] with the given probabilities per frame, the rest of each frame on the blank."""
    out = np.full((len(rows), labels), 1e-6)
    for t, row in enumerate(rows):
        for label, p in row.items():
            out[t, label] = p
        out[t, 0] = max(1e-6, 1 - sum(row.values()))
    return np.log(out / out.sum(1, keepdims=True))


def test_every_history_gives_a_distribution_over_labels_and_the_end() -> None:
    lm = LabelNgram.counted([[1, 2, 3], [1, 3], [2, 2, 1]], order=3, num_labels=4, k=0.5)
    for history in ([], [1], [1, 2], [3, 3, 3], [2, 2]):
        total = sum(math.exp(lm.log_prob(history, c)) for c in range(4))  # 0 is the end
        assert total == pytest.approx(1.0, abs=1e-12)
    # Seen continuations beat unseen ones; the lower order keeps unseen ones above zero.
    assert lm.log_prob([1], 2) > lm.log_prob([1], 1) > -math.inf
    assert lm.log_prob([1, 3], BOUNDARY) > lm.log_prob([1, 3], 2)


def test_plain_data_round_trip_keeps_every_probability() -> None:
    lm = LabelNgram.counted([[1, 2, 3, 2], [3, 1]], order=2, num_labels=4, k=1.0)
    again = LabelNgram.from_dict(lm.to_dict())
    assert again.to_dict() == lm.to_dict()
    assert again.log_prob([2], 3) == lm.log_prob([2], 3)
    with pytest.raises(StudioError, match="damaged"):
        LabelNgram.from_dict({"order": 2, "num_labels": 4, "k": 1.0, "counts": [[1, 2, 3, 4]]})
    with pytest.raises(StudioError, match="lm_order"):
        LabelNgram(0, 4)


def test_the_lm_turns_an_acoustically_close_call_towards_what_the_transcripts_say() -> None:
    # Acoustics: label 1, then 2 (p 0.5) a little more likely than 3 (p 0.4).
    frames = _frames({1: 0.9}, {2: 0.5, 3: 0.4}, {})
    plain = [label for label, _, _ in prefix_beam_search(frames, beam_width=8)]
    assert plain == [1, 2]
    # The training transcripts always follow 1 with 3.
    lm = LabelNgram.counted([[1, 3]] * 20 + [[2]] * 5, order=2, num_labels=4)
    fused = [label for label, _, _ in prefix_beam_search(frames, 8, lm=lm, lm_weight=1.0)]
    assert fused == [1, 3]
    # A small weight leaves the acoustics in charge.
    assert [label for label, _, _ in prefix_beam_search(frames, 8, lm=lm, lm_weight=0.01)] == [1, 2]


def test_the_end_of_sequence_term_prefers_lengths_the_transcripts_have() -> None:
    # A third label (3) the acoustics are unsure of: emitted or not, nearly even.
    frames = _frames({1: 0.9}, {2: 0.9}, {3: 0.52})
    assert [label for label, _, _ in prefix_beam_search(frames, 8)] == [1, 2, 3]
    lm = LabelNgram.counted([[1, 2]] * 30, order=3, num_labels=4)  # transcripts end after 1 2
    assert [label for label, _, _ in prefix_beam_search(frames, 8, lm=lm, lm_weight=0.5)] == [1, 2]


def test_weight_zero_is_the_plain_search_step_for_step() -> None:
    rng = np.random.default_rng(0)
    lm = LabelNgram.counted([list(rng.integers(1, 6, size=4)) for _ in range(30)], order=3, num_labels=6)
    for _ in range(20):
        logits = rng.normal(size=(int(rng.integers(3, 25)), 6)) * 3
        frames = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        for width in (1, 3, 8):
            assert prefix_beam_search(frames, width, lm=lm, lm_weight=0.0) == prefix_beam_search(frames, width)
