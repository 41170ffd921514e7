"""Generations on disk as the page shows them: `samples/<run>/<folder>/` read back into one record.

The same record answers a generation request and lists earlier ones, so a replayed generation looks
exactly like a fresh one. Only complete folders (those with `settings.json`) are listed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import numpy as np

from studio.errors import StudioError
from studio.generation.tasks import task_of_folder
from studio.server.runs import NotFound, inside, run_folder

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$")
MAX_LISTED = 50
WAVEFORM_POINTS = 800


def sample_file(root: Path, run: str, folder: str, name: str) -> Path:
    """`<root>/<run>/<folder>/<name>`, checked: plain names only, and nothing outside `root`."""
    if not FILE_NAME.match(folder) or not FILE_NAME.match(name) or ".." in folder + name:
        raise StudioError(f"{folder}/{name} is not a file of a generation")
    path = run_folder(root, run) / folder / name
    if not path.is_file():
        raise NotFound(f"{run}/{folder}/{name} does not exist")
    return inside(root, path)


def file_url(run: str, folder: str, name: str) -> str:
    """Where the page fetches a saved file."""
    return f"/files/{quote(run)}/{quote(folder)}/{quote(name)}"


def waveform(samples: np.ndarray, points: int = WAVEFORM_POINTS) -> list[list[float]]:
    """Min and max of the audio in `points` equal stretches, for drawing (mono, in [-1, 1])."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if audio.size == 0:
        return []
    edges = np.linspace(0, audio.size, min(points, audio.size) + 1).astype(int)
    return [
        [round(float(audio[a:b].min()), 4), round(float(audio[a:b].max()), 4)] for a, b in zip(edges[:-1], edges[1:])
    ]


def generation_record(root: Path, run: str, folder: Path, extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Everything the page shows of one generation folder; `extra` adds what only a fresh request knows."""
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    files = sorted(p for p in folder.iterdir() if p.is_file() and FILE_NAME.match(p.name))
    task = task_of_folder(settings, [p.name for p in files])
    record: dict[str, Any] = {
        "run": run,
        "folder": folder.name,
        "time": folder.stat().st_mtime,
        "settings": settings,
        "interrupted": bool(settings.get("interrupted", False)),
        "files": {p.name: file_url(run, folder.name, p.name) for p in files},
        "task": task.name if task is not None else "unknown",
    }
    if task is not None:
        record.update(task.read_back(folder, files, lambda name: file_url(run, folder.name, name)))
    record.update(extra or {})
    return record


def history(root: Path, run: str) -> list[dict[str, Any]]:
    """The run's complete generations, newest first (at most MAX_LISTED); unreadable folders are left out."""
    try:
        base = run_folder(root, run)
    except NotFound:
        return []
    folders = [
        f for f in base.iterdir() if f.is_dir() and (f / "settings.json").is_file() and not f.name.startswith("eval-")
    ]
    folders.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    found = []
    for folder in folders[:MAX_LISTED]:
        try:
            found.append(generation_record(root, run, folder))
        except (OSError, ValueError) as _:
            continue  # a folder being written or damaged by hand
    return found
