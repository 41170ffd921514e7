"""`studio evaluate` with several checkpoints: what each measured, in one table side by side."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from studio.evaluation.report import table


def checkpoint_labels(paths: list[Path]) -> list[str]:
    """Short names for the table's columns: `<run>/<file>`, numbered where the same one is given twice."""
    names = [f"{path.resolve().parent.name}/{path.name}" for path in paths]
    repeated = Counter(names)
    seen: Counter = Counter()
    labels = []
    for name in names:
        seen[name] += 1
        labels.append(f"{name} #{seen[name]}" if repeated[name] > 1 else name)
    return labels


def side_by_side(labels: list[str], results: list[dict[str, Any]]) -> list[str]:
    """One table per measure every checkpoint took: likelihood, tagging, classification, or generated against real."""
    tables = []
    if all("tagging" in r for r in results):
        rows = [
            [label, r["tagging"]["label_error_rate"], r["tagging"]["frame_accuracy"]]
            for label, r in zip(labels, results)
        ]
        tables.append(table(rows, ["checkpoint", "label error rate", "frame accuracy"]))
    if all("classification" in r for r in results):
        found = [r["classification"] for r in results]
        rows = [[label, f["accuracy"], f["macro_f1"], f["items"]] for label, f in zip(labels, found)]
        tables.append(table(rows, ["checkpoint", "accuracy", "macro-F1", "examples"]))
    if all("text_tagging" in r for r in results):
        found = [r["text_tagging"] for r in results]
        rows = [
            [label, f["token_accuracy"], f["f1"] if f["spans_scored"] else "n/a", f["tokens"]]
            for label, f in zip(labels, found)
        ]
        tables.append(table(rows, ["checkpoint", "token accuracy", "span F1", "words"]))
    if all("likelihood" in r for r in results):
        found = [r["likelihood"] for r in results]
        rows = [[label, f["nats_per_token"], f["bits_per_token"], f["tokens"]] for label, f in zip(labels, found)]
        tables.append(table(rows, ["checkpoint", "nats/token", "bits/token", "tokens"]))
    if all("generated_vs_real" in r for r in results):
        compared = [r["generated_vs_real"] for r in results]
        if all("reference" in c for c in compared):  # text: each statistic's figure, and the real text's
            names = list(compared[0]["generated"])
            rows = [[name, *[c["generated"][name] for c in compared], compared[0]["reference"][name]] for name in names]
            tables.append(table(rows, ["statistic", *labels, "real text"]))
        else:  # MIDI: the mgeval overlap with the real pieces (higher is closer)
            names = list(compared[0])
            rows = [[name, *[c[name]["overlap"] for c in compared]] for name in names]
            tables.append(table(rows, ["overlap with real (higher is closer)", *labels]))
    return tables
