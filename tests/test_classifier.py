"""The sequence classifier: padding never changes a result, its heads and losses, and its scores against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score

from studio.codecs.class_scores import confusion_scores, majority_accuracy
from studio.errors import StudioError
from studio.models import SequenceClassifier
from studio.models.class_counts import ClassCounts

VOCAB = 50


def _model(**kwargs: object) -> SequenceClassifier:
    torch.manual_seed(0)
    settings = {"input_size": VOCAB, "num_classes": 3, "embedding_dim": 8, "hidden_size": 8, **kwargs}
    return SequenceClassifier(**settings).eval()  # type: ignore[arg-type]


@pytest.mark.parametrize("pooling", ["last", "mean", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn_tanh", "gru", "lstm"])
def test_a_review_padded_to_100_or_400_gets_the_same_logits(pooling: str, bidirectional: bool, cell: str) -> None:
    model = _model(pooling=pooling, bidirectional=bidirectional, cell=cell, num_layers=2)
    review = torch.randint(2, VOCAB, (1, 37))
    other = torch.randint(2, VOCAB, (1, 100))  # a longer neighbour decides how far the batch is padded
    logits = []
    for width in (100, 400):
        batch = torch.zeros(2, width, dtype=torch.long)
        batch[0, :37], batch[1, :100] = review, other
        logits.append(model(batch, torch.tensor([37, 100]))[0])
    alone = model(review, torch.tensor([37]))[0]
    torch.testing.assert_close(logits[0], logits[1], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(logits[0], alone, atol=1e-6, rtol=1e-5)


def test_the_keras_head_is_one_sigmoid_logit_for_two_classes() -> None:
    model = _model(num_classes=2, head="sigmoid", cell="rnn_tanh")
    assert model.head.out_features == 1
    inputs = torch.randint(1, VOCAB, (4, 9))
    logits = model(inputs, torch.full((4,), 9))
    p = model.probabilities(logits)
    assert p.shape == (4, 2)
    torch.testing.assert_close(p.sum(-1), torch.ones(4))
    torch.testing.assert_close(p[:, 1], logits[:, 0].sigmoid())
    targets = torch.tensor([0, 1, 1, 0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
    torch.testing.assert_close(model.loss(logits, targets), expected)


def test_multi_label_heads_score_each_class_on_its_own() -> None:
    model = _model(num_classes=4, head="sigmoid", multi_label=True)
    logits = model(torch.randint(1, VOCAB, (2, 5)), torch.tensor([5, 3]))
    assert logits.shape == (2, 4)
    assert torch.equal(model.predict_ids(logits), (logits.sigmoid() >= 0.5).long())
    with pytest.raises(StudioError, match="head sigmoid"):
        _model(num_classes=4, multi_label=True, head="softmax")


def test_bad_settings_are_one_line_errors() -> None:
    with pytest.raises(StudioError, match="come from the data module"):
        SequenceClassifier()
    with pytest.raises(StudioError, match="pooling 'max'"):
        _model(pooling="max")
    with pytest.raises(StudioError, match="head 'relu'"):
        _model(head="relu")


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=60))
def test_accuracy_and_macro_f1_are_scikit_learns(pairs: list[tuple[int, int]]) -> None:
    truth, guess = np.array([t for t, _ in pairs]), np.array([g for _, g in pairs])
    counts = ClassCounts(4, multi_label=False)
    counts.update(torch.zeros(len(pairs)), torch.as_tensor(guess), torch.as_tensor(truth))
    _, accuracy, macro = counts.summary()
    expected = f1_score(truth, guess, average="macro", zero_division=0)
    assert float(accuracy) == pytest.approx(accuracy_score(truth, guess))
    assert float(macro) == pytest.approx(expected, abs=1e-6)
    scores = confusion_scores(counts.as_numpy(), ["a", "b", "c", "d"])
    assert scores["macro_f1"] == pytest.approx(expected)
    assert scores["accuracy"] == pytest.approx(accuracy_score(truth, guess))
    assert majority_accuracy(counts.as_numpy()) == pytest.approx(np.bincount(truth).max() / len(truth))
