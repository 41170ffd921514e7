"""Public MIDI collections, downloaded once when asked for by name, checked, unpacked safely, split as published.

- `maestro`: MAESTRO v3.0.0 (Hawthorne et al., ICLR 2019; CC BY-NC-SA 4.0), 1,276 solo piano performances,
  the MIDI-only zip. Its CSV gives each performance's official split (train / validation / test), which the
  MIDI data module keeps, so held-out figures are comparable with published ones. Size as muspy records it,
  SHA-256 as Magenta's dataset page gives it.
- `lakh`: the Lakh MIDI Dataset's `lmd_full` (Raffel, 2016; CC BY 4.0), about 178,000 multi-instrument files
  named by their MD5. Size, MD5 and SHA-256 as muspy records them.
- `lakh_clean`: its `clean_midi` subset, about 17,000 files named by artist and title. No digest is
  published with it: the size and SHA-256 are those a public inventory of the downloaded archive recorded
  (the size is confirmed by a second one); if the host ever serves other bytes, the download stops with
  a one-line error rather than training on something else.

Neither Lakh archive has an official split: the data module draws one by file, as for any folder.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from datamodules.remote_files import fetch_once, unpack_once
from studio.downloads import Remote, extract_tar, extract_zip
from studio.errors import StudioError

MIDI_SUFFIXES = (".mid", ".midi")
LMD = "http://hog.ee.columbia.edu/craffel/lmd/"  # the host serves these over plain HTTP only
# The names MAESTRO's CSV gives its splits, and the data module's names for them.
SPLIT_NAMES = {"train": "train", "validation": "val", "test": "test"}


@dataclass(frozen=True)
class MidiCollection:
    """A public MIDI collection: its archive, the folder the archive unpacks to, and its split file, if any."""

    remote: Remote
    archive: str  # the archive's file name in the cache
    root: str  # the folder inside the archive that holds everything
    split_file: Optional[str] = None  # a CSV in `root` with columns `midi_filename` and `split`


COLLECTIONS: dict[str, MidiCollection] = {
    "maestro": MidiCollection(
        Remote(
            "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip",
            size=58416533,
            sha256="70470ee253295c8d2c71e6d9d4a815189e35c89624b76d22fce5a019d5dde12c",
        ),
        "maestro-v3.0.0-midi.zip",
        "maestro-v3.0.0",
        "maestro-v3.0.0.csv",
    ),
    "lakh": MidiCollection(
        Remote(
            LMD + "lmd_full.tar.gz",
            size=1768163879,
            sha256="6fcfe2ac49ca08f3f214cec86ab138d4fc4dabcd7f27f491a838dae6db45a12b",
            md5="2536ce3fd2cede53ddaa264f731859ab",
        ),
        "lmd_full.tar.gz",
        "lmd_full",
    ),
    "lakh_clean": MidiCollection(
        Remote(
            LMD + "clean_midi.tar.gz",
            size=234283029,
            sha256="de1bb64cbc0cf35545a05b5c3e786aa6890cfa144edffc4b827ff41bf8c33dc5",
        ),
        "clean_midi.tar.gz",
        "clean_midi",
    ),
}


@dataclass
class CollectionFiles:
    """A collection's MIDI files (sorted), and each file's split ("train", "val", "test") when it names them."""

    files: list[Path]
    splits: Optional[dict[Path, str]] = None


def collection_files(
    name: str, cache: Path, limit: Optional[int] = None, table: Optional[dict[str, MidiCollection]] = None
) -> CollectionFiles:
    """The files of collection `name`, downloaded and unpacked into `cache/datasets/` the first time.

    `limit` keeps the first files of each split in proportion to its size (at least one each), so a
    small trial run still has validation and test pieces.
    """
    table = COLLECTIONS if table is None else table
    if name not in table:
        raise StudioError(f"unknown MIDI collection {name!r}: choose one of {', '.join(table)}")
    collection = table[name]
    datasets = Path(cache) / "datasets"
    folder = datasets / name
    root = folder / collection.root
    if not root.is_dir():
        hint = "--data.init_args.paths (the unpacked folder)"
        archive = fetch_once(collection.remote, datasets / collection.archive, hint)
        unpack_once(archive, folder, extract_zip if collection.archive.endswith(".zip") else extract_tar)
        if not root.is_dir():
            raise StudioError(
                f"{archive} has no folder {collection.root}/: delete {archive} and {folder} and download it again"
            )
    root = root.resolve()
    if collection.split_file is None:
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
        if not files:
            raise StudioError(f"no MIDI files under {root}: delete {folder} and download it again")
        return CollectionFiles(files[:limit] if limit else files)
    splits = read_splits(root / collection.split_file, root)
    return CollectionFiles(*_limited(splits, limit))


def read_splits(table: Path, root: Path) -> dict[Path, str]:
    """Each file's split from a MAESTRO-style CSV (`midi_filename` relative to `root`, `split`), read row by row."""
    fix = f"delete {root.parent} and download the collection again"
    splits: dict[Path, str] = {}
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                name, split = row.get("midi_filename"), row.get("split")
                if not name or split not in SPLIT_NAMES:
                    raise StudioError(
                        f"{table} line {len(splits) + 2} has no midi_filename or an unknown split {split!r}: {fix}"
                    )
                path = (root / name).resolve()
                if not path.is_relative_to(root) or not path.is_file():
                    raise StudioError(f"{table} names {name}, which is not a file under {root}: {fix}")
                splits[path] = SPLIT_NAMES[split]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise StudioError(f"cannot read the split table {table} ({type(error).__name__}): {fix}") from None
    if not splits:
        raise StudioError(f"the split table {table} lists no files: {fix}")
    return splits


def split_indices(files: Sequence[Path], splits: dict[Path, str], name: str) -> dict[str, list[int]]:
    """The indices of `files` (a store's usable files) in each split; test falls back to validation if empty."""
    by_path = {os.path.abspath(path): split for path, split in splits.items()}
    found: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for i, path in enumerate(files):
        found[by_path[os.path.abspath(path)]].append(i)
    if not found["train"] or not found["val"]:
        raise StudioError(
            f"the {name} collection has no usable training or validation files: "
            "raise --data.init_args.limit or leave it unset"
        )
    return found if found["test"] else {**found, "test": found["val"]}


def _limited(splits: dict[Path, str], limit: Optional[int]) -> tuple[list[Path], dict[Path, str]]:
    """All files (sorted) and their splits, or with `limit` the first files of each split in proportion."""
    files = sorted(splits)
    if not limit:
        return files, splits
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(splits[path], []).append(path)
    kept = [p for group in groups.values() for p in group[: max(1, math.ceil(limit * len(group) / len(files)))]]
    return sorted(kept), {path: splits[path] for path in kept}
