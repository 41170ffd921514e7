"""Sequence classification: one label per text or clip, with every class's probability (many-to-one)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from studio.generation.requests import check_request, setting
from studio.generation.tasks.record import Task

if TYPE_CHECKING:
    from studio.generation.classifying import Prediction
    from studio.generation.decoding import Progress
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.outputs import SampleFolder

MAX_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class ClassifyRequest:
    """What a classification request holds besides its inputs: the multi-label threshold."""

    threshold: float = setting(
        0.5, "multi-label: classes at or above this probability are predicted", above=0, at_most=1
    )

    def __post_init__(self) -> None:
        check_request(self)


def run(
    loaded: LoadedCheckpoint, inputs: list[Any], request: ClassifyRequest, progress: Optional[Progress]
) -> list[Prediction]:
    """A prediction per input, in order."""
    from studio.generation.classifying import classify

    return classify(loaded.model, loaded.codec, inputs, request.threshold, progress)


def save(folder: SampleFolder, predictions: list[Prediction], request: ClassifyRequest) -> list[Path]:
    """predictions.csv (name, label, a probability column per class) and predictions.jsonl."""
    labels = list(predictions[0].probabilities) if predictions else []
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["input", "label", *(f"p_{label}" for label in labels), "steps", "cut_from"])
    for p in predictions:
        writer.writerow([p.name, p.label, *(p.probabilities[label] for label in labels), p.steps, p.cut_from or ""])
    lines = "".join(json.dumps(_plain(p)) + "\n" for p in predictions)
    return [
        folder.write("predictions.csv", table.getvalue().encode("utf-8")),
        folder.write("predictions.jsonl", lines.encode("utf-8")),
    ]


def _plain(p: Prediction) -> dict[str, Any]:
    return {
        "name": p.name,
        "label": p.label,
        "probabilities": p.probabilities,
        "steps": p.steps,
        "cut_from": p.cut_from,
    }


def show(predictions: list[Prediction], paths: list[Path]) -> list[str]:
    """A line per input: its name, the predicted class and the likeliest classes' probabilities."""
    lines = []
    for p in predictions:
        top = "  ".join(f"{label} {q:.3f}" for label, q in p.top(MAX_SHOWN))
        cut = f"  (cut from {p.cut_from} to {p.steps} steps)" if p.cut_from else ""
        lines.append(f"{p.name}: {p.label}    [{top}]{cut}")
    return lines


def read_back(folder: Path, files: list[Path], url: Callable[[str], str]) -> dict[str, Any]:
    """The saved predictions."""
    path = folder / "predictions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {"predictions": [json.loads(line) for line in lines if line.strip()]}


def inputs_of(codec: Any) -> str:
    """Texts (each a document), or audio clips for audio classifiers."""
    return str(codec.input_kind)


def loss_unit(codec: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
    """A classifier's loss is counted per input (summed over the classes of a multi-label one)."""
    return "nats per input"


CLASSIFICATION = Task(
    name="classification",
    title="classification",
    shape="many-to-one",
    net_path="studio.nets.classifier:ClassifierNet",
    codec_kind="classes",
    request=ClassifyRequest,
    method="classify",
    command="classify",
    unit="inputs",
    noun="prediction",
    inputs=inputs_of,
    run=run,
    save=save,
    show=show,
    read_back=read_back,
    loss_unit=loss_unit,
    evaluate="studio.evaluation.classification:evaluate_classifier",
    web_limits={},
)
