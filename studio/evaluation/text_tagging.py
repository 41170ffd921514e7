"""`studio evaluate` for word taggers: token accuracy, span precision/recall/F1 (BIO tags) and tag confusions,
beside the baseline of tagging every word with the commonest tag."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from studio.codecs.bio import SpanScore
from studio.codecs.conll import Sentence, read_tagged
from studio.errors import StudioError
from studio.evaluation.report import confusion_plot, table
from studio.evaluation.request import Evaluation, EvaluationRequest, check_scored_on_data
from studio.generation import Generator
from studio.generation.word_tagging import tag_word_lists

CHUNK = 256


def tagged_sentences(paths: list[str]) -> Iterator[Sentence]:
    """The sentences of every CoNLL / CoNLL-U file (or folder of them) in `paths`."""
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise StudioError(f"--data {given} does not exist: pass CoNLL or CoNLL-U files")
        for file in sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]:
            yield from read_tagged(file)


def evaluate_text_tagger(generator: Generator, request: EvaluationRequest, folder: Path) -> Evaluation:
    """Score the tagger on tagged sentences (the files' own words, so the scores are the corpus's)."""
    check_scored_on_data(request, "text_tagging", "tagged sentences (CoNLL or CoNLL-U files)")
    codec, model = generator.loaded.codec, generator.loaded.model
    sentences = request.held_out() if request.held_out is not None else tagged_sentences(request.data)
    score, commonest = SpanScore(), Counter[str]()
    size = len(codec.labels)
    confusion = np.zeros((size, size), dtype=np.int64)
    chunk: list[Sentence] = []
    with request.progress("sentences") as bar:
        for sentence in _with_end(sentences):
            if sentence is not None and sentence.words:
                chunk.append(sentence)
            if chunk and (sentence is None or len(chunk) == CHUNK):
                _score(model, codec, chunk, score, confusion, commonest)
                if bar is not None:
                    bar(0.0, score.tokens)
                chunk = []
    if not score.tokens:
        raise StudioError("--data holds no tagged sentences: pass CoNLL or CoNLL-U files")
    found = score.as_dict()
    found["commonest_tag_baseline"] = commonest.most_common(1)[0][1] / score.tokens
    found["spans_scored"] = codec.spans_scored
    result = {"checkpoint": str(generator.path), "task": generator.task.name, "text_tagging": found}
    picture = folder / "confusion.png"
    confusion_plot(confusion, list(codec.labels), "confusion of tags", picture)
    return Evaluation(result, _tables(found, score), [picture])


def _with_end(sentences: Iterator[Sentence]) -> Iterator[Sentence | None]:
    yield from sentences
    yield None


def _score(
    model: Any, codec: Any, chunk: list[Sentence], score: SpanScore, confusion: np.ndarray, commonest: Counter
) -> None:
    predicted = tag_word_lists(model, codec, [s.words for s in chunk])
    for sentence, ids in zip(chunk, predicted):
        truth = codec.label_ids(sentence.labels, f"{sentence.source}: ")
        guess = [codec.labels[i] for i in ids]
        commonest.update(sentence.labels)
        if codec.spans_scored:
            score.add(list(sentence.labels), guess)
        else:
            score.tokens += len(guess)
            score.correct_tokens += sum(a == b for a, b in zip(sentence.labels, guess))
        np.add.at(confusion, (truth, np.asarray(ids)), 1)


def _tables(found: dict[str, Any], score: SpanScore) -> str:
    rows: list[list[Any]] = [
        ["words", score.tokens],
        ["token accuracy", score.token_accuracy],
        ["commonest-tag baseline accuracy", found["commonest_tag_baseline"]],
    ]
    parts = []
    if found["spans_scored"]:
        rows += [["span precision", score.precision], ["span recall", score.recall], ["span F1", score.f1]]
    parts.append(table(rows, ["text tagging", "value"]))
    if found["spans_scored"]:
        per_type = [[kind, v["precision"], v["recall"], v["f1"], v["support"]] for kind, v in score.per_type().items()]
        parts.append(table(per_type, ["span type", "precision", "recall", "F1", "support"]))
    return "\n\n".join(parts)
