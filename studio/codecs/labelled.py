"""Where labelled sequences come from: JSONL/CSV manifests, folders per label, or a named dataset.

Each source yields `Record`s one at a time (a manifest of any size is read line by line), each with
the name of where it came from, its text or audio file, its label(s), and its split when the source
says (aclImdb's `train/` and `test/` folders, or a manifest given as the validation or test set).
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from studio.errors import StudioError

TEXT_SUFFIXES = (".txt", ".text", ".md")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
SPLITS = ("train", "val", "test")
# aclImdb's unlabelled reviews (train/unsup) are not a class.
IGNORED_FOLDERS = ("unsup",)


@dataclass(frozen=True)
class Record:
    """One labelled sequence: where it came from, its text or audio file, its labels, and its split (if fixed)."""

    name: str
    text: Optional[str]
    audio: Optional[Path]
    labels: tuple[str, ...]
    split: Optional[str] = None


def fingerprint(paths: Iterable[Path]) -> str:
    """A digest of the files' names, sizes and modification times: it changes whenever one of them does."""
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def source_files(path: Path) -> list[Path]:
    """The files a manifest or folder source reads (for its fingerprint)."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + AUDIO_SUFFIXES)


def records_of(path: Path, split: Optional[str], fields: tuple[str, str, str], encoding: str) -> Iterator[Record]:
    """The records of a manifest file or a folder of class folders; `split` fixes their split."""
    if not path.exists():
        raise StudioError(f"{path} does not exist: pass a .jsonl/.csv manifest or a folder with a folder per class")
    if path.is_dir():
        yield from folder_records(path, split, encoding)
    elif path.suffix.lower() in (".jsonl", ".csv"):
        yield from manifest_records(path, split, fields, encoding)
    else:
        raise StudioError(f"{path} is neither a .jsonl or .csv manifest nor a folder: pass one of those")


def manifest_records(path: Path, split: Optional[str], fields: tuple[str, str, str], encoding: str) -> Iterator[Record]:
    """Records of a JSONL file (an object per line) or a CSV file with a header, read a line at a time."""
    text_field, audio_field, label_field = fields
    with open(path, encoding=encoding, newline="") as handle:
        rows: Iterable[tuple[int, Any]]
        if path.suffix.lower() == ".csv":
            reader = csv.DictReader(handle)
            rows = ((i + 2, row) for i, row in enumerate(reader))  # the header is line 1
        else:
            rows = ((i + 1, json_line(path, i + 1, line)) for i, line in enumerate(handle) if line.strip())
        try:
            for line, row in rows:
                where = f"{path.name}:{line}"
                labels = _labels(row.get(label_field), where, label_field)
                audio = row.get(audio_field)
                text = row.get(text_field)
                if audio:
                    yield Record(where, None, (path.parent / str(audio)).expanduser(), labels, split)
                elif isinstance(text, str):
                    yield Record(where, text, None, labels, split)
                else:
                    raise StudioError(
                        f"{where} has no {text_field!r} text nor {audio_field!r} file: give every record one"
                    )
        except UnicodeDecodeError as error:
            raise StudioError(
                f"{path} is not valid {encoding} (byte {error.start} of a line): convert it to UTF-8, "
                "or pass --data.init_args.encoding latin-1"
            ) from None


def json_line(path: Path, line: int, text: str) -> dict[str, Any]:
    """One line of a JSONL file as an object; a one-line error naming the file and line when it is not one."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise StudioError(f"{path.name}:{line} is not JSON ({error.msg}): write one object per line") from None
    if not isinstance(record, dict):
        raise StudioError(f"{path.name}:{line} is not a JSON object: write one object per line")
    return record


def _labels(value: Any, where: str, field: str) -> tuple[str, ...]:
    """One label (text or a number), or a list of labels (multi-label)."""
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        return tuple(str(v) for v in value)
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return (str(value).strip(),)
    raise StudioError(f"{where} has no {field!r} label: give every record a label (text, a number, or a list)")


def folder_records(root: Path, split: Optional[str], encoding: str) -> Iterator[Record]:
    """`root/<class>/<files>`, or `root/train/<class>/...` and `root/test/<class>/...` (as aclImdb ships)."""
    splits = {p.name.lower(): p for p in root.iterdir() if p.is_dir() and p.name.lower() in ("train", "val", "test")}
    if "train" in splits:
        for name in SPLITS:
            if name in splits:
                yield from _class_folders(splits[name], name, encoding)
    else:
        yield from _class_folders(root, split, encoding)


def _class_folders(root: Path, split: Optional[str], encoding: str) -> Iterator[Record]:
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name not in IGNORED_FOLDERS)
    if not folders:
        raise StudioError(f"{root} has no class folders: put each class's files in a folder named after it")
    for folder in folders:
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES + AUDIO_SUFFIXES
        )
        if not files:
            raise StudioError(
                f"class folder {folder} holds no examples ({', '.join(TEXT_SUFFIXES + AUDIO_SUFFIXES)}): "
                "add some or remove the folder"
            )
        for file in files:
            name = f"{folder.parent.name}/{folder.name}/{file.name}"
            if file.suffix.lower() in AUDIO_SUFFIXES:
                yield Record(name, None, file, (folder.name,), split)
            else:
                yield Record(name, read_text_file(file, encoding), None, (folder.name,), split)


def read_text_file(path: Path, encoding: str) -> str:
    """A text file's contents; a one-line error naming it when it is not `encoding`."""
    try:
        return path.read_text(encoding=encoding)
    except UnicodeDecodeError as error:
        raise StudioError(
            f"{path} is not valid {encoding} (byte {error.start}): convert it to UTF-8, or pass --data.init_args.encoding latin-1"
        ) from None
