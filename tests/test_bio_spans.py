"""BIO span extraction and span scores: hand-made cases, and random label sequences checked against seqeval."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import accuracy_score, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities, precision_recall_fscore_support

from studio.codecs.bio import SpanScore, is_bio, label_type, spans
from studio.errors import StudioError

# seqeval's default mode reads E- and S- (IOBES) through the same get_entities, so they are in the alphabet.
ALPHABET = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B", "B-LOC", "I-LOC"]


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([], []),
        (["O", "O", "O"], []),
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-PER", "B-PER", "I-PER"], [("PER", 0, 1), ("PER", 1, 3)]),
        # IOB1: I- opens a chunk after O or after another type.
        (["I-PER", "I-PER", "O", "I-LOC"], [("PER", 0, 2), ("LOC", 3, 4)]),
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 1), ("LOC", 1, 3)]),
        (["I-PER", "B-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        # A change of type with B- kept closes one chunk and opens another.
        (["B-PER", "B-LOC"], [("PER", 0, 1), ("LOC", 1, 2)]),
        # IOBES: E- closes a chunk, S- is a chunk of one token, and I-/E- after E-/S- open a new one.
        (["B-PER", "I-PER", "E-PER", "S-LOC", "O"], [("PER", 0, 3), ("LOC", 3, 4)]),
        (["S-PER", "S-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        (["B-PER", "E-PER", "I-PER", "E-PER"], [("PER", 0, 2), ("PER", 2, 4)]),
        (["E-PER", "O"], [("PER", 0, 1)]),
        (["B-PER", "S-PER"], [("PER", 0, 1), ("PER", 1, 2)]),
        # A chunk that runs to the end of the sentence is closed there.
        (["O", "B-MISC", "I-MISC"], [("MISC", 1, 3)]),
        # Everything after the first hyphen is the type.
        (["B-X-Y", "I-X-Y"], [("X-Y", 0, 2)]),
    ],
)
def test_spans_of_hand_made_sentences(labels: list[str], expected: list[tuple[str, int, int]]) -> None:
    assert spans(labels) == expected


def test_a_label_that_is_not_bio_is_refused_on_one_line() -> None:
    with pytest.raises(StudioError, match="'PER' at position 1") as caught:
        spans(["O", "PER"])
    assert "\n" not in str(caught.value)


def test_label_type_and_is_bio() -> None:
    assert [label_type(x) for x in ["B-PER", "I-PER", "E-PER", "S-PER", "O", "PER"]] == ["PER"] * 4 + ["O", "PER"]
    assert is_bio(["O", "B-A", "I-A", "E-A", "S-A"])
    assert is_bio(["O", "O"]) and is_bio([])
    assert not is_bio(["O", "PER"]) and not is_bio(["B-"]) and not is_bio(["X-A"])


def test_scores_of_a_known_example() -> None:
    score = SpanScore()
    score.add(["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "I-PER", "O", "B-PER"])
    score.add(["O", "B-LOC"], ["O", "O"])
    assert (score.precision, score.recall) == (0.5, 1 / 3)
    assert score.f1 == pytest.approx(0.4)
    assert score.token_accuracy == 4 / 6
    assert score.per_type() == {
        "LOC": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2},
        "PER": {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1},
    }
    data = score.as_dict()
    assert (data["true_positives"], data["predicted"], data["reference"]) == (1, 2, 3)
    assert (data["tokens"], data["correct_tokens"]) == (6, 4)


def test_an_empty_score_is_zero_rather_than_undefined() -> None:
    score = SpanScore()
    assert (score.precision, score.recall, score.f1, score.token_accuracy) == (0.0, 0.0, 0.0, 0.0)
    assert score.per_type() == {}


def test_mismatched_lengths_raise_one_line() -> None:
    with pytest.raises(StudioError, match="3 labels but the prediction has 2") as caught:
        SpanScore().add(["O", "B-A", "I-A"], ["O", "B-A"])
    assert "\n" not in str(caught.value)


def _sentence_pairs(draw: st.DrawFn) -> list[tuple[list[str], list[str]]]:
    lengths = draw(st.lists(st.integers(0, 8), min_size=1, max_size=5))
    labels = st.sampled_from(ALPHABET)
    return [
        (draw(st.lists(labels, min_size=n, max_size=n)), draw(st.lists(labels, min_size=n, max_size=n)))
        for n in lengths
    ]


sentence_pairs = st.composite(_sentence_pairs)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(sentence_pairs())
def test_scores_and_spans_equal_seqeval(pairs: list[tuple[list[str], list[str]]]) -> None:
    reference = [r for r, _ in pairs]
    predicted = [p for _, p in pairs]
    score = SpanScore()
    for r, p in pairs:
        score.add(r, p)
    for sentence in reference + predicted:
        assert spans(sentence) == [(kind, start, end + 1) for kind, start, end in get_entities(sentence)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns about the undefined scores it sets to 0
        assert score.precision == pytest.approx(precision_score(reference, predicted), abs=1e-9)
        assert score.recall == pytest.approx(recall_score(reference, predicted), abs=1e-9)
        assert score.f1 == pytest.approx(f1_score(reference, predicted), abs=1e-9)
        by_type = precision_recall_fscore_support(reference, predicted, average=None)
    ours = score.per_type()
    assert len(ours) == len(by_type[3])
    for (kind, row), *theirs in zip(sorted(ours.items()), *by_type):
        assert [row["precision"], row["recall"], row["f1"]] == pytest.approx([float(x) for x in theirs[:3]], abs=1e-9)
        assert row["support"] == theirs[3] == score.reference[kind]
    if score.tokens:
        assert score.token_accuracy == pytest.approx(accuracy_score(reference, predicted), abs=1e-9)


@settings(derandomize=True, max_examples=100, deadline=None)
@given(sentence_pairs(), sentence_pairs())
def test_merge_equals_one_score_fed_both(
    first: list[tuple[list[str], list[str]]], second: list[tuple[list[str], list[str]]]
) -> None:
    one, other, both = SpanScore(), SpanScore(), SpanScore()
    for r, p in first:
        one.add(r, p)
        both.add(r, p)
    for r, p in second:
        other.add(r, p)
        both.add(r, p)
    one.merge(other)
    assert one.as_dict() == both.as_dict()
