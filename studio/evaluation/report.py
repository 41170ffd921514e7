"""An evaluation's outputs: a table on the terminal, `evaluation.json`, and an HTML report with its pictures."""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from studio.evaluation.compare import Value
from studio.io import atomic_write_bytes

if TYPE_CHECKING:  # only named in annotations: drawing needs no sampling code
    from studio.evaluation.against import TextComparison


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table, numbers with four significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    cells = [list(map(str, header)), *[[cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def statistic_plot(
    name: str,
    generated: Sequence[Value],
    reference: Sequence[Value],
    path: Path,
    baseline: Optional[Sequence[Value]] = None,
) -> None:
    """A PNG of one statistic over the sets: histograms for numbers, mean profiles for vectors.

    `baseline`, when given, is a third set (say, an untrained model's) drawn beside the generated one.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    sets = [("reference", reference), ("generated", generated)]
    if baseline is not None:
        sets.append(("baseline", baseline))
    arrays = [(label, np.array([np.atleast_1d(v) for v in values], dtype=float)) for label, values in sets]
    if arrays[0][1].shape[1] == 1:
        bins = np.histogram_bin_edges(np.concatenate([a[:, 0] for _, a in arrays]), bins=20).tolist()
        for label, values in arrays:
            ax.hist(values[:, 0], bins=bins, alpha=0.5, density=True, label=label)
        ax.set_xlabel(name)
    else:
        for label, values in arrays:
            ax.plot(values.mean(0), label=label)
        ax.set_xlabel(f"{name} (component)")
    ax.set_title(name)
    ax.legend()
    _save(fig, path)


def instrument_overlap_plot(overlaps: dict[str, dict[str, float]], path: Path) -> None:
    """A PNG of each instrument's overlap with its real counterpart (rows) per statistic (columns), 0 to 1."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(overlaps)
    statistics = list(dict.fromkeys(stat for row in overlaps.values() for stat in row))
    grid = np.array([[overlaps[name].get(stat, np.nan) for stat in statistics] for name in names], dtype=float)
    fig = Figure(figsize=(max(6.0, 0.45 * len(statistics) + 2), max(2.5, 0.4 * len(names) + 2)), dpi=90)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(grid, cmap="Greens", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(statistics)), [s.replace("_", " ") for s in statistics], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(names)), names, fontsize=8)
    ax.set_title("overlap with the real pieces, each instrument's notes alone", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="overlap")
    _save(fig, path)


def confusion_plot(confusion: np.ndarray, names: Sequence[str], title: str, path: Path) -> None:
    """A PNG of a reference-by-predicted confusion matrix, each row as shares of its reference label."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=float)
    used = np.flatnonzero(counts.sum(0) + counts.sum(1))  # labels that never occur on either side are left out
    counts = counts[np.ix_(used, used)]
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    side = min(14.0, max(4.0, 0.25 * len(used) + 2))
    fig = Figure(figsize=(side, side * 0.85), dpi=80)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(used))
    labels = [names[int(i)] for i in used]
    size = 8 if len(used) <= 30 else 6
    ax.set_xticks(ticks, labels, rotation=90, fontsize=size)
    ax.set_yticks(ticks, labels, fontsize=size)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the reference label")
    _save(fig, path)


def text_statistics_plot(made: TextComparison, path: Path, baseline: Optional[TextComparison] = None) -> None:
    """A PNG of bars, one panel per text statistic: the real text's figure beside the generated texts'
    (with its standard deviation over the rounds), and `baseline`'s when given (say, an untrained model's)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sets = [("generated", made), *([("baseline", baseline)] if baseline is not None else [])]
    labels = ["real", *[label for label, _ in sets]]
    names = list(made.reference)
    fig = Figure(figsize=(8, 3), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names))
    for ax, name in zip(axes, names):
        heights = [made.reference[name], *[found.generated[name] for _, found in sets]]
        spreads = [0.0, *[found.spread[name] for _, found in sets]]
        places = list(range(len(labels)))
        ax.bar(places, heights, yerr=spreads, color=[f"C{i}" for i in places])
        ax.set_title(name.replace("_", "\n"), fontsize=7)
        ax.set_xticks(places, labels, rotation=90, fontsize=7)
        ax.tick_params(axis="y", labelsize=6)
    _save(fig, path)


def _save(fig: Any, path: Path) -> None:
    """Lay the figure out and write it as a PNG, atomically."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def write_report(folder: Path, results: dict[str, Any], images: Sequence[Path], text: str) -> None:
    """`evaluation.json` and `report.html` (the table and every picture) in `folder`."""
    atomic_write_bytes(folder / "evaluation.json", json.dumps(results, indent=2, default=_plain).encode())
    pictures = "\n".join(
        f'<figure><img src="{html.escape(p.name)}" alt="{html.escape(p.stem)}"></figure>' for p in images
    )
    page = (
        "<!doctype html><meta charset=utf-8><title>Studio evaluation</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f4f4f4;padding:1em}"
        "figure{display:inline-block;margin:.5em}</style>"
        f"<h1>Studio evaluation</h1><pre>{html.escape(text)}</pre>{pictures}"
    )
    atomic_write_bytes(folder / "report.html", page.encode("utf-8"))


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
