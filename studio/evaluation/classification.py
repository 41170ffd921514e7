"""`studio evaluate` for classifiers: accuracy, macro-F1 and a confusion matrix on labelled data, beside the
majority-class baseline (the accuracy of always answering the commonest class of that data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from studio.codecs.class_scores import confusion_scores, majority_accuracy, multi_label_scores
from studio.codecs.labelled import Record, records_of
from studio.errors import StudioError
from studio.evaluation.report import confusion_plot, table
from studio.evaluation.request import Evaluation, EvaluationRequest, check_scored_on_data
from studio.generation import Generator
from studio.generation.classifying import classify
from studio.generation.inputs import TextItem, audio_clip

CHUNK = 512
FIELDS = ("text", "audio", "label")


def labelled_records(paths: list[str]) -> Iterator[Record]:
    """The records of each manifest or folder; a folder with `train/` and `test/` gives its test records only."""
    for given in paths:
        path = Path(given).expanduser()
        records = records_of(path, None, FIELDS, "utf-8")
        has_test = path.is_dir() and (path / "test").is_dir()
        yield from (r for r in records if not has_test or r.split == "test")


def evaluate_classifier(generator: Generator, request: EvaluationRequest, folder: Path) -> Evaluation:
    """Score the classifier on `request.data`, read and predicted a chunk at a time."""
    check_scored_on_data(request, "classification", "labelled examples (a manifest or a folder per class)")
    records = request.held_out() if request.held_out is not None else labelled_records(request.data)
    codec = generator.loaded.codec
    size = len(codec.labels)
    counts = np.zeros((size, 3) if codec.multi_label else (size, size), dtype=np.int64)
    exact = items = cut = 0
    with request.progress("inputs") as bar:
        for chunk in _chunks(records):
            inputs = [_input(record) for record in chunk]
            truth = [_truth(codec, record) for record in chunk]
            for prediction, labels in zip(classify(generator.loaded.model, codec, inputs), truth):
                guess = set(prediction.label.split(",")) if codec.multi_label else {prediction.label}
                exact += guess == labels
                cut += prediction.cut_from is not None
                _count(counts, codec, labels, guess)
            items += len(chunk)
            if bar is not None:
                bar(0.0, items)
    if not items:
        raise StudioError("--data holds no labelled examples: pass a manifest or a folder per class")
    names = list(codec.labels)
    scores = multi_label_scores(counts, exact, items, names) if codec.multi_label else confusion_scores(counts, names)
    if not codec.multi_label:
        scores["majority_baseline"] = majority_accuracy(counts)
    scores["cut_to_max_len"] = cut
    result = {"checkpoint": str(generator.path), "task": generator.task.name, "classification": scores}
    return Evaluation(result, _tables(scores, codec.max_len), _pictures(counts, names, codec.multi_label, folder))


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _input(record: Record) -> Any:
    if record.audio is not None:
        return audio_clip(record.audio)
    if record.text is None or not record.text.strip():
        raise StudioError(f"{record.name} is empty: give every example some text")
    return TextItem(record.name, record.text)


def _truth(codec: Any, record: Record) -> set[str]:
    for label in record.labels:
        if label not in codec.labels:
            raise StudioError(
                f"{record.name} is labelled {label!r}, a class this classifier never learned "
                f"({', '.join(codec.labels[:12])}): evaluate it on data with its own classes"
            )
    return set(record.labels)


def _count(counts: np.ndarray, codec: Any, truth: set[str], guess: set[str]) -> None:
    if codec.multi_label:
        for i, label in enumerate(codec.labels):
            counts[i] += (
                label in truth and label in guess,
                label not in truth and label in guess,
                label in truth and label not in guess,
            )
    else:
        counts[codec.label_id(next(iter(truth))), codec.label_id(next(iter(guess)))] += 1


def _tables(scores: dict[str, Any], max_len: int) -> str:
    rows: list[list[Any]] = [
        ["examples", scores["items"]],
        ["accuracy", scores["accuracy"]],
        ["macro-F1", scores["macro_f1"]],
    ]
    if "majority_baseline" in scores:
        rows.append(["majority-class baseline accuracy", scores["majority_baseline"]])
    rows.append([f"cut to max_len {max_len}", scores["cut_to_max_len"]])
    per_class = [[name, c["precision"], c["recall"], c["f1"], c["support"]] for name, c in scores["per_class"].items()]
    return "\n\n".join(
        [table(rows, ["classification", "value"]), table(per_class, ["class", "precision", "recall", "F1", "support"])]
    )


def _pictures(counts: np.ndarray, names: list[str], multi_label: bool, folder: Path) -> list[Path]:
    if multi_label:
        return []
    picture = folder / "confusion.png"
    confusion_plot(counts, names, "confusion of classes", picture)
    return [picture]
