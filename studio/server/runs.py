"""The runs under the checkpoints folder: what each is, how far it trained, and safe paths to its files.

Only `<checkpoints>/<run>/last.ckpt` and `best.ckpt` can be named, by run name and role: names that are
not plain folder names, `..`, and links that lead out of the folder are refused in one line.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from studio.checkpoint import read_checkpoint
from studio.errors import StudioError
from studio.generation.references import bundle_checkpoint, bundle_names, model_card
from studio.generation.tasks import task_of

ROLES = ("last", "best")
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$")
MODEL_KEYS = ("cell", "num_layers", "hidden_size", "embedding_dim", "bidirectional", "loss")
METRICS_FILE, STATUS_FILE = "metrics.csv", "status.json"


class NotFound(StudioError):
    """A run or file that is not there (the server answers 404)."""


def inside(root: Path, path: Path) -> Path:
    """`path` with links resolved, if it stays under `root`; else a one-line refusal."""
    real, base = path.resolve(), root.resolve()
    if real != base and base not in real.parents:
        raise StudioError(f"{path.name} leads outside {root}: only files under it can be opened")
    return real


def run_folder(root: Path, run: str) -> Path:
    """The folder of `run` under `root`, checked: a plain name, present, not a link out of `root`."""
    if not RUN_NAME.match(run or "") or ".." in run:
        raise StudioError(f"{run!r} is not a run name: pick one from the list of runs")
    folder = root / run
    if not folder.is_dir():
        raise NotFound(f"no run {run!r} under {root}: pick one from the list of runs")
    return inside(root, folder)


def is_bundle(root: Path, run: str) -> bool:
    """Whether `run` names a bundled model (and no run of the user's has that name)."""
    return bool(RUN_NAME.match(run or "")) and not (root / run).is_dir() and run in bundle_names()


def checkpoint_path(root: Path, run: str, role: str) -> Path:
    """`<root>/<run>/<role>.ckpt`, checked; `role` is `last` or `best`; a bundled model's one checkpoint for either."""
    if role not in ROLES:
        raise StudioError(f"checkpoint {role!r} must be 'last' or 'best'")
    if is_bundle(root, run):
        return bundle_checkpoint(run)
    path = run_folder(root, run) / f"{role}.ckpt"
    if not path.is_file():
        raise NotFound(f"run {run!r} has no {role}.ckpt yet: choose {' or '.join(r for r in ROLES if r != role)}")
    return inside(root, path)


def training_now(folder: Path) -> bool:
    """Whether `status.json` says a live process on this machine is training the run."""
    try:
        status = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
        if status.get("state") != "training":
            return False
        os.kill(int(status["pid"]), 0)
        return True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def read_metrics(folder: Path, limit: int = 20000) -> dict[str, list[list[float]]]:
    """Each metric of the run's metrics.csv as [step, value] pairs (at most `limit` each, evenly thinned beyond it)."""
    path = folder / METRICS_FILE
    series: dict[str, list[list[float]]] = {}
    if not path.is_file():
        return series
    with open(path, encoding="utf-8", errors="replace") as handle:
        for record in csv.DictReader(handle):
            # Rows of step, name, value; or (an early layout) one column per loss.
            pairs = [(record.get("name"), record.get("value"))] if "name" in record else list(record.items())
            for name, text in pairs:
                if name in (None, "step", "epoch", "time"):
                    continue
                try:
                    value = _loss(text)
                    if value is not None:
                        series.setdefault(str(name), []).append([int(record["step"]), value])
                except (KeyError, TypeError, ValueError):
                    continue  # a row being written, or a damaged one
    for name, points in series.items():
        if len(points) > limit:
            series[name] = points[:: math.ceil(len(points) / limit)]
    return series


def _loss(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


@dataclass
class _Cached:
    key: tuple[int, int]
    summary: dict[str, Any]


class RunCatalog:
    """Summaries of the runs under `root`, each checkpoint read once per version of its file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[Path, _Cached] = {}
        self._lock = threading.Lock()

    def runs(self) -> list[dict[str, Any]]:
        """Every run with a checkpoint, newest first, then the bundled models; unreadable runs say why."""
        found = []
        for folder in sorted(self.root.iterdir()) if self.root.is_dir() else []:
            if not folder.is_dir() or not RUN_NAME.match(folder.name):
                continue
            roles = [role for role in ROLES if (folder / f"{role}.ckpt").is_file()]
            if roles:
                found.append(self.summary(folder, roles))
        found.sort(key=lambda run: run["date"], reverse=True)
        return found + [self.bundle(name) for name in bundle_names() if not (self.root / name).is_dir()]

    def bundle(self, name: str) -> dict[str, Any]:
        """What the page shows of a bundled model: as a run, with its card's held-out figures."""
        path = bundle_checkpoint(name)
        summary = self._described(path)
        card = model_card(name)
        return {
            **summary,
            "name": name,
            "bundle": True,
            "card": card,
            "checkpoints": list(ROLES),
            "best_val_loss": card.get("held_out", {}).get("loss"),
            "steps": card.get("steps", summary.get("steps", 0)),  # a bundle keeps its weights, not its loop state
            "date": "",
            "training": False,
        }

    def summary(self, folder: Path, roles: list[str]) -> dict[str, Any]:
        """What the page shows of one run."""
        path = folder / f"{roles[0]}.ckpt"
        stat = path.stat()
        described = self._described(path)
        losses = [value for _, value in read_metrics(folder).get("val_loss", [])]
        best = min(losses) if losses else described.get("best_val_loss")
        return {
            **described,
            "name": folder.name,
            "checkpoints": roles,
            "best_val_loss": best,
            "date": datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds"),
            "training": training_now(folder),
        }

    def _described(self, path: Path) -> dict[str, Any]:
        """`_describe(path)`, read once per version of the file."""
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(path)
        if cached is None or cached.key != key:
            cached = _Cached(key, _describe(path))
            with self._lock:
                self._cache[path] = cached
        return cached.summary


def _describe(path: Path) -> dict[str, Any]:
    """Task, model, steps and codec facts of a checkpoint (read safely; a damaged one says why)."""
    try:
        checkpoint = read_checkpoint(path)
    except StudioError as error:
        return {"task": "unreadable", "error": str(error), "model": {}, "steps": 0, "controls": {}, "labels": None}
    meta = checkpoint["studio"]
    try:
        task = task_of(meta, str(path))
    except StudioError as error:
        return {"task": "unreadable", "error": str(error), "model": {}, "steps": 0, "controls": {}, "labels": None}
    codec = meta.get("codec") or {}
    hparams = checkpoint.get("hyper_parameters", {})
    controls = codec.get("controls") or []
    labels = codec.get("labels", {}).get("labels") if isinstance(codec.get("labels"), dict) else None
    best = None
    for state in (checkpoint.get("callbacks") or {}).values():
        score = state.get("best_model_score") if isinstance(state, dict) else None
        if score is not None:
            best = float(score)
    return {
        "task": task.name,
        "loss_unit": task.loss_unit(codec, hparams),  # the page overlays loss curves of one unit only
        "model": {key: hparams[key] for key in MODEL_KEYS if key in hparams},
        "steps": int(checkpoint.get("global_step", 0)),
        "controls": {"density": "density" in controls, "pitch": "pitch_histogram" in controls},
        "instruments": codec.get("kind") == "midi_multitrack",  # the page offers --programs
        "labels": labels,
        "best_val_loss": best,
    }
