"""What a tagging or classification request is given: audio clips or texts, read from files, stdin or manifests.

Each item keeps a name (its file, or its line or record), so results can say which input they belong to.
Every file is read with a size cap, and an input that cannot be read stops the request in one line
before anything is written.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, TextIO, Union

import numpy as np

from studio.codecs.labelled import json_line
from studio.errors import StudioError

# One text input may be a long document, but not a corpus: larger files belong in `studio evaluate --data`.
MAX_TEXT_BYTES = 64 * 1024**2
MANIFEST_SUFFIXES = (".jsonl", ".csv")
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class AudioClip:
    """Mono samples at a sample rate, with the name of where they came from."""

    name: str
    samples: np.ndarray
    sample_rate: int

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return self.samples.size / self.sample_rate


@dataclass(frozen=True)
class TextItem:
    """A text to classify or tag, with the name of where it came from."""

    name: str
    text: str


def audio_clip(audio: Union[PathLike, np.ndarray, AudioClip], sample_rate: Optional[int] = None) -> AudioClip:
    """A clip from a path to an audio file, or from samples and their rate."""
    if isinstance(audio, AudioClip):
        return audio
    if isinstance(audio, np.ndarray):
        if sample_rate is None or sample_rate <= 0:
            raise StudioError("audio given as samples needs its sample_rate (Hz)")
        return AudioClip("samples", audio, int(sample_rate))
    from studio.codecs.speech import read_audio  # here: texts need no audio reader (nor scipy)

    samples, sr = read_audio(str(audio))
    return AudioClip(str(audio), samples, sr)


def text_items(texts: Union[str, TextItem, Iterable[Union[str, TextItem]]]) -> list[TextItem]:
    """Texts given to the API: one string, or many (named by their position)."""
    if isinstance(texts, (str, TextItem)):
        texts = [texts]
    items = [t if isinstance(t, TextItem) else TextItem(f"text {i}", t) for i, t in enumerate(texts, 1)]
    for item in items:
        if not isinstance(item.text, str):
            raise StudioError(f"{item.name} is a {type(item.text).__name__}, not text: pass strings")
    return items


def read_inputs(kind: str, sources: Sequence[str], stdin: Optional[TextIO] = None) -> list[Any]:
    """The items of `sources` for a request of `kind` ("audio", "documents" or "sentences"); `-` reads stdin.

    Documents: each file is one text; stdin and manifests (.jsonl with "text", .csv with a text column)
    give one text per line or record. Sentences: every non-empty line of a file or of stdin is one text.
    Audio: each file is one clip; a .jsonl manifest names clips in its "audio" field.
    """
    items: list[Any] = []
    for source in sources:
        if source == "-":
            items += _lines("stdin", (stdin or _stdin()).read(MAX_TEXT_BYTES + 1))
            continue
        path = Path(source).expanduser()
        if not path.is_file():
            raise StudioError(f"{source} does not exist or is not a file: pass files to read (or - for stdin)")
        if kind == "audio":
            items += [audio_clip(p) for p in _manifest_audio(path)] if path.suffix == ".jsonl" else [audio_clip(path)]
        elif path.suffix.lower() in MANIFEST_SUFFIXES:
            items += _manifest_texts(path)
        elif kind == "sentences":
            items += _lines(str(path), _read_text(path))
        else:
            items.append(TextItem(str(path), _read_text(path)))
    if not items:
        raise StudioError("no inputs were given or found: pass files, a manifest, or - with text on stdin")
    return items


def _stdin() -> TextIO:
    import sys

    return sys.stdin


def _read_text(path: Path) -> str:
    """A UTF-8 text file, refused in one line when too large or not UTF-8."""
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise StudioError(
            f"{path} has {size / 1e6:,.0f} MB, over the {MAX_TEXT_BYTES // 1024**2} MB an input may have: "
            "split it, or score a corpus with `studio evaluate --data`"
        )
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise StudioError(
            f"{path} is not valid UTF-8 (byte {error.start}): convert it, e.g. `iconv -f latin1 -t utf-8 {path.name}`"
        ) from None


def _lines(name: str, text: str) -> list[TextItem]:
    if len(text) > MAX_TEXT_BYTES:
        raise StudioError(f"{name} holds over {MAX_TEXT_BYTES // 1024**2} MB: pass smaller inputs")
    return [TextItem(f"{name}:{i}", line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def _manifest_texts(path: Path) -> list[TextItem]:
    """The "text" of every record of a .jsonl or .csv manifest."""
    text = _read_text(path)
    items = []
    for i, record in enumerate(_records(path, text), 1):
        value = record.get("text")
        if not isinstance(value, str):
            raise StudioError(f'{path} record {i} has no "text" field with text: give every record one')
        items.append(TextItem(f"{path}:{i}", value))
    return items


def _manifest_audio(path: Path) -> list[Path]:
    """The audio files a .jsonl manifest names (relative to the manifest's folder)."""
    found = []
    for i, record in enumerate(_records(path, _read_text(path)), 1):
        value = record.get("audio")
        if not isinstance(value, str):
            raise StudioError(f'{path} record {i} has no "audio" field with a path: give every record one')
        found.append((path.parent / value).expanduser())
    return found


def _records(path: Path, text: str) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(text))]
    return [json_line(path, i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
