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
import pretty_midi

from studio.errors import StudioError
from studio.server.runs import NotFound, inside, run_folder

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$")
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MAX_LISTED = 50
MAX_TEXT_BYTES = 1_000_000
WAVEFORM_POINTS = 800


def pitch_name(pitch: int) -> str:
    """C4 is MIDI pitch 60."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


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


def notes_of(path: Path) -> tuple[list[dict[str, Any]], float]:
    """The notes of a saved MIDI file (pitch, name, start, end, velocity) and its length in seconds."""
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = sorted((n for inst in midi.instruments for n in inst.notes), key=lambda n: (n.start, n.pitch))
    listed = [
        {
            "pitch": n.pitch,
            "name": pitch_name(n.pitch),
            "start": round(n.start, 4),
            "end": round(n.end, 4),
            "velocity": n.velocity,
        }
        for n in notes
    ]
    return listed, float(midi.get_end_time())


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


def _sample_number(path: Path) -> int:
    match = re.search(r"_(\d+)$", path.stem)
    return int(match.group(1)) if match else 0


def generation_record(root: Path, run: str, folder: Path, extra: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Everything the page shows of one generation folder; `extra` adds what only a fresh request knows."""
    settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
    files = sorted(p for p in folder.iterdir() if p.is_file() and FILE_NAME.match(p.name))
    record: dict[str, Any] = {
        "run": run,
        "folder": folder.name,
        "time": folder.stat().st_mtime,
        "settings": settings,
        "interrupted": bool(settings.get("interrupted", False)),
        "files": {p.name: file_url(run, folder.name, p.name) for p in files},
    }
    midis = sorted((p for p in files if p.suffix == ".mid"), key=_sample_number)
    texts = sorted((p for p in files if p.suffix == ".txt"), key=_sample_number)
    labels = [p for p in files if p.suffix == ".json" and p.name != "settings.json"]
    if midis:
        record["kind"] = "midi"
        record["pieces"] = [_piece(run, folder, path, files) for path in midis]
    elif texts:
        record["kind"] = "text"
        record["texts"] = [p.read_bytes()[:MAX_TEXT_BYTES].decode("utf-8", errors="replace") for p in texts]
    elif labels:
        record["kind"] = "tag"
        tagged = json.loads(labels[0].read_text(encoding="utf-8"))
        record["duration"] = tagged.get("duration_s")
        record["spans"] = tagged.get("labels", [])
        record["waveform"] = None
    else:
        record["kind"] = "unknown"
    record.update(extra or {})
    return record


def _piece(run: str, folder: Path, path: Path, files: list[Path]) -> dict[str, Any]:
    notes, seconds = notes_of(path)
    names = {p.name for p in files}
    rendered = {
        suffix: file_url(run, folder.name, path.with_suffix(f".{suffix}").name)
        if path.with_suffix(f".{suffix}").name in names
        else None
        for suffix in ("wav", "png")
    }
    return {
        "index": _sample_number(path),
        "seconds": round(seconds, 3),
        "notes": notes,
        "files": {"mid": file_url(run, folder.name, path.name), **rendered},
    }


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
