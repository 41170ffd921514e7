"""Music sources: find MIDI files, convert music21's bundled corpus to MIDI, fetch named public collections
(datamodules.midi_collections), and encode a few files into memory with a cache."""

from __future__ import annotations

import glob
import hashlib
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.file_lock import exclusive
from datamodules.midi_collections import COLLECTIONS, CollectionFiles, collection_files
from datamodules.midi_encoding import EventCodec, encode_many
from datamodules.progress_line import ProgressLine
from datamodules.skipped import warn_skipped
from studio.errors import StudioError
from studio.io import atomic_path, atomic_write_bytes, cache_root

MIDI_SUFFIXES = (".mid", ".midi")
_GLOB_CHARS = "*?["
_CACHE_FORMAT = 2  # bump when the cache entries' layout or meaning changes


def _is_midi(path: Path) -> bool:
    return path.suffix.lower() in MIDI_SUFFIXES


def find_midi_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Expand folders (recursively), files and globs into a sorted, de-duplicated list of .mid/.midi files."""
    inputs = [paths] if isinstance(paths, (str, Path)) else list(paths)
    if not inputs:
        raise StudioError("no MIDI input given: pass a folder, a .mid file or a glob such as 'my_midis/**/*.mid'")
    found: set[Path] = set()
    for item in inputs:
        text = str(item)
        if any(c in text for c in _GLOB_CHARS):
            matches = [Path(p) for p in glob.glob(text, recursive=True)]
            # A glob like 'songs/**' names folders too; look inside them.
            hits = [f for m in matches for f in (m.rglob("*") if m.is_dir() else [m])]
        elif Path(text).is_dir():
            hits = list(Path(text).rglob("*"))
        else:
            hits = [Path(text)]
        midis = {f.resolve() for f in hits if f.is_file() and _is_midi(f)}
        if not midis:
            raise StudioError(f"no .mid/.midi files found under {text}: check the path or the glob")
        found |= midis
    return sorted(found)


# --- music21's bundled corpus --------------------------------------------------------------------

MUSIC21_COLLECTIONS = {
    # collection name -> (music21 corpus folder, which files to take)
    "bach_chorales": ("bach", lambda p: p.name.startswith("bwv") and p.suffix in (".mxl", ".krn", ".xml")),
    "ryans_mammoth": ("ryansMammoth", lambda p: p.suffix == ".abc"),  # one folk tune per file
    # The chorales again, each voice played by its own instrument (see ENSEMBLE): multi-instrument music.
    "bach_chorales_ensemble": ("bach", lambda p: p.name.startswith("bwv") and p.suffix in (".mxl", ".krn", ".xml")),
}
# The instrument of each chorale voice in "bach_chorales_ensemble": four General MIDI programs in four families,
# so the voices stay apart with programs="family" too. Other parts (trumpets, horns, timpani, an oboe doubling
# a voice) get the instrument their name says when music21 knows it, else keep music21's (piano).
ENSEMBLE = {"soprano": "Flute", "alto": "Clarinet", "tenor": "Horn", "bass": "Violoncello"}  # 73, 71, 60, 42


def music21_corpus_files(
    collection: str = "bach_chorales", limit: int | None = None, folder: str | Path | None = None
) -> list[Path]:
    """Convert (once, offline) a music21 corpus collection to .mid files in `folder` (default: the cache's music21/)."""
    if collection not in MUSIC21_COLLECTIONS:
        choices = ", ".join(sorted(MUSIC21_COLLECTIONS))
        raise StudioError(
            f"unknown music21 collection {collection!r}: use one of {choices}, "
            f"or a downloadable one ({', '.join(COLLECTIONS)})"
        )
    from music21 import corpus

    composer, wanted = MUSIC21_COLLECTIONS[collection]
    sources = sorted((Path(p) for p in corpus.getComposer(composer) if wanted(Path(p))), key=lambda p: p.name)
    if limit is not None:
        sources = sources[: max(0, limit)]
    out_dir = Path(folder) if folder is not None else cache_root() / "music21"
    out_dir = out_dir / collection
    # Named after the corpus file (e.g. bwv1.6.mid), so the same limit always gives the same files.
    targets = [out_dir / f"{source.stem}.mid" for source in sources]
    failed: list[str] = []
    if not all(target.is_file() for target in targets):
        # One process converts; the others (DDP ranks, a second run) wait here, then find the files made.
        with exclusive(out_dir.parent / f".{collection}.lock"):
            failed = _convert_missing(sources, targets, collection, out_dir)
    result = [target for target in targets if target.is_file()]
    warn_skipped([(name, "failed to convert") for name in failed], len(sources), "music21 scores", stacklevel=2)
    if not result:
        raise StudioError(f"music21 collection {collection!r} gave no MIDI files: check that music21 is installed")
    return result


def _convert_missing(sources: Sequence[Path], targets: Sequence[Path], collection: str, out_dir: Path) -> list[str]:
    """Convert each source whose target file is missing; the sources that failed to convert, with why."""
    missing = [(source, target) for source, target in zip(sources, targets) if not target.is_file()]
    if not missing:  # another process converted them while this one waited
        return []
    # About a minute for 200 chorales: said before it starts, with progress as it goes.
    print(
        f"converting {len(missing)} music21 scores ({collection}) to MIDI, once: later runs read them from {out_dir}",
        file=sys.stderr,
        flush=True,
    )
    progress = ProgressLine(f"converting {collection}", len(missing), time.monotonic(), unit="scores", per_unit=1)
    failed: list[str] = []
    for source, target in missing:
        try:
            _convert_to_midi(source, target, ensemble=collection == "bach_chorales_ensemble")
        except Exception as exc:  # music21 parsers raise many types on odd scores
            failed.append(f"{source.name} ({type(exc).__name__})")
        progress.advance(1)
    progress.close()
    return failed


def _convert_to_midi(source: Path, target: Path, ensemble: bool = False) -> None:
    from music21 import converter, stream

    score = converter.parse(str(source))
    if isinstance(score, stream.Opus):  # a file holding several pieces: take the first
        score = score.scores[0]
    if ensemble:
        _give_instruments(score)
    with atomic_path(target) as tmp:  # a half-written file never looks like a finished conversion
        score.write("midi", fp=str(tmp))


def _give_instruments(score: Any) -> None:
    """Give each part of a chorale its own instrument (ENSEMBLE by voice), so each is written with its program."""
    from music21 import instrument

    parts = list(score.parts)
    named = [str(part.partName or "").split(" ")[0].lower() for part in parts]
    if not any(name in ENSEMBLE for name in named) and len(parts) == len(ENSEMBLE):
        named = list(ENSEMBLE)  # four unnamed parts: the voices from the top down
    for part, name in zip(parts, named):
        if name in ENSEMBLE:
            player = getattr(instrument, ENSEMBLE[name])()
        else:
            try:
                player = instrument.fromString(str(part.partName or ""))
            except Exception:  # music21 raises its own types for names it does not know
                continue
            if player.midiProgram is None:
                continue
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        part.insert(0, player)


def named_corpus_files(corpus: str, limit: int | None, cache: Path) -> CollectionFiles:
    """The files of a named corpus: a public collection (downloaded once, with its splits if it names them)
    or a music21 collection (converted once)."""
    if corpus in COLLECTIONS:
        return collection_files(corpus, cache, limit)
    return CollectionFiles(music21_corpus_files(corpus, limit, cache / "music21"))


# --- encoding with an on-disk cache --------------------------------------------------------------


@dataclass
class EncodedCorpus:
    """Encoded pieces (path, ids) plus the input files that could not be used."""

    items: list[tuple[Path, np.ndarray]]
    skipped: list[Path] = field(default_factory=list)
    reasons: dict[Path, str] = field(default_factory=dict)  # why each skipped file was unusable

    def __len__(self) -> int:
        return len(self.items)

    @property
    def sequences(self) -> list[np.ndarray]:
        """The id arrays (int64), in input order."""
        return [ids for _, ids in self.items]

    @property
    def total_tokens(self) -> int:
        """Number of ids over all pieces."""
        return sum(len(ids) for _, ids in self.items)


def cache_key(path: Path, codec: EventCodec) -> str:
    """Hash of (absolute path, size, content, codec settings): any change means a fresh encode."""
    data = path.read_bytes()
    meta = {"path": str(path.resolve()), "size": len(data), "codec": codec.events_dict(), "format": _CACHE_FORMAT}
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode())
    digest.update(hashlib.sha256(data).digest())
    return digest.hexdigest()[:32]


def _save(entry: Path, ids: np.ndarray | None, error: str) -> None:
    # Ids as raw little-endian int32 (read back in microseconds); a failure as its message, so a second
    # run never re-parses a corrupt file.
    if ids is not None:
        atomic_write_bytes(entry.with_suffix(".ids"), ids.astype("<i4").tobytes())
    else:
        atomic_write_bytes(entry.with_suffix(".err"), error.encode("utf-8"))


def _load(entry: Path) -> tuple[np.ndarray | None, str] | None:
    try:
        data = entry.with_suffix(".ids").read_bytes()
    except OSError:
        try:
            return None, entry.with_suffix(".err").read_bytes().decode("utf-8", "replace")
        except OSError:
            return None  # not cached yet
    if not data or len(data) % 4:
        warnings.warn(f"rebuilding a damaged cache entry {entry.with_suffix('.ids')}", stacklevel=3)
        return None
    return np.frombuffer(data, "<i4").astype(np.int64), ""


def encode_files(files: Sequence[str | Path], codec: EventCodec, folder: str | Path, workers: int = 0) -> EncodedCorpus:
    """Encode MIDI files into memory with codec (in parallel when workers > 1), reusing cached ids; skip unreadable files.

    For a few files (benchmarks, tools); training reads whole collections from the MIDI store (midi_store).
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise StudioError("no MIDI files to encode: pass a folder, a .mid file or a glob with MIDI files in it")
    cache = Path(folder)
    results: dict[int, tuple[np.ndarray | None, str]] = {}
    todo: list[tuple[int, Path]] = []
    for i, path in enumerate(paths):
        try:
            entry = cache / cache_key(path, codec)
        except OSError as exc:
            results[i] = (None, f"{path}: {exc.strerror or exc}")
            continue
        cached = _load(entry)
        if cached is not None:
            results[i] = cached
        else:
            todo.append((i, entry))

    for (i, entry), (ids, error) in zip(
        todo, encode_many([paths[i] for i, _ in todo], codec, workers, np.dtype(np.int64))
    ):
        _save(entry, ids, error)
        results[i] = (ids, error)

    items = [(paths[i], ids) for i, (ids, _) in sorted(results.items()) if ids is not None]
    skipped = [paths[i] for i, (ids, _) in sorted(results.items()) if ids is None]
    if not items:
        shown = ", ".join(p.name for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        raise StudioError(
            f"none of the {len(paths)} MIDI files could be read ({shown}): "
            "check they are Standard MIDI Files that contain notes"
        )
    reasons = {paths[i]: error for i, (ids, error) in sorted(results.items()) if ids is None}
    warn_skipped([(p.name, reasons[p] or "unreadable") for p in skipped], len(paths), "MIDI files", stacklevel=2)
    return EncodedCorpus(items, skipped, reasons)
