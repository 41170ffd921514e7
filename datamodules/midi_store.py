"""The MIDI store: a collection's event ids encoded once into shards in the cache, then memory-mapped.

A store folder (one per collection and codec settings: the codec's kind among them, so a piano store
and a multi-instrument store of the same files never mix) holds immutable shards (see midi_shards)
and `meta.json`: the format, the codec, the id dtype, the shards, each file content known by its
digest -> [shard, piece] or why it is unusable, and each file of the collection -> [size, time
stamp, digest]. Preparation is incremental: a file whose size and time stamp are unchanged keeps
its digest, a digest already stored keeps its piece, and only new content is encoded (in parallel,
into a new shard). Files gone from the collection drop out of meta.json; a shard left mostly unused,
or a small one, has its live pieces copied into the new shard and is deleted.

Shards are written under temporary names and renamed, and meta.json is published last by a rename,
so an interrupted preparation leaves only files that no meta.json names (removed by the next one).
A lock file beside the folder makes other processes (DDP ranks, other nodes on a shared cache)
wait for the one preparing, then map the same shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from datamodules.corpus_reader import changed_error
from datamodules.file_lock import exclusive
from datamodules.midi_encoding import EventCodec, default_workers, encode_many, file_digest
from datamodules.midi_shards import ShardWriter, is_small, read_ids, read_offsets, shard_files, shard_intact
from datamodules.midi_stream import JoinedPieces
from datamodules.progress_line import ProgressLine
from datamodules.skipped import warn_skipped
from datamodules.store_entry import StoreUnusable
from datamodules.store_entry import read_meta as read_entry_meta
from studio.codecs.text_encoding import store_dtype
from studio.errors import StudioError
from studio.io import atomic_write_bytes, check_free_space

FORMAT = 1  # version of the layout above; a store of another version is rebuilt (with a notice)
META = "meta.json"
FOLDER = "midi"  # under the cache
Stamp = tuple[int, int]  # size, modification time (ns)


@dataclass
class MidiStore:
    """A collection's usable files and where their ids are: `table` rows (shard, lo, hi) into `shards`."""

    folder: Path
    dtype: np.dtype
    shards: list[Path]
    files: list[Path]
    table: np.ndarray
    skipped: list[Path] = field(default_factory=list)
    reasons: dict[Path, str] = field(default_factory=dict)  # why each skipped file is unusable
    encoded: int = 0  # files this call encoded (0 when the store was up to date)
    built: bool = False  # whether this call brought the store up to date (False: it was in the cache already)
    _maps: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.files)

    def piece(self, index: int) -> np.ndarray:
        """The ids of usable file `index` (a read-only view of its shard)."""
        shard, lo, hi = (int(v) for v in self.table[index])
        if shard not in self._maps:
            self._maps[shard] = np.memmap(self.shards[shard], dtype=self.dtype, mode="r")
        return self._maps[shard][lo:hi]

    def joined(self, indices: Sequence[int], codec: EventCodec) -> JoinedPieces:
        """The pieces of the files `indices`, in that order, as one BOS, ids, EOS, ... stream."""
        return JoinedPieces(self.shards, self.dtype, self.table[list(indices)], codec.bos_id, codec.eos_id)

    @property
    def items(self) -> list[tuple[Path, np.ndarray]]:
        """(file, its ids as int64) for every usable file: copies, meant for small collections."""
        return [(path, np.asarray(self.piece(i), dtype=np.int64)) for i, path in enumerate(self.files)]

    @property
    def total_tokens(self) -> int:
        """Number of ids over all usable files."""
        return int((self.table[:, 2] - self.table[:, 1]).sum())


def store_folder(cache: Path, inputs: Sequence[str], limit: Optional[int], codec: EventCodec) -> Path:
    """Where the store of a collection lives: named by its inputs (folders, globs, a corpus), limit and codec."""
    what = {"inputs": sorted(inputs), "limit": limit, "codec": codec.events_dict()}
    return cache / FOLDER / hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:24]


def _stamps(paths: Sequence[Path]) -> dict[Path, Union[Stamp, str]]:
    stamps: dict[Path, Union[Stamp, str]] = {}
    for path in paths:
        try:
            stat = path.stat()
            stamps[path] = (stat.st_size, stat.st_mtime_ns)
        except OSError as error:
            stamps[path] = f"{path}: {error.strerror or error}"
    return stamps


def read_meta(folder: Path, codec: EventCodec) -> dict[str, Any]:
    """A published store's meta.json, its shards checked; StoreUnusable when of another format or damaged."""
    if not (folder / META).exists():
        raise StoreUnusable("missing")  # not prepared yet, or its first preparation was interrupted
    meta = read_entry_meta(folder, META, FORMAT)
    if meta.get("codec") != codec.events_dict():
        raise StoreUnusable("damaged (made with other codec settings)")
    try:
        dtype = np.dtype(meta["dtype"])
        broken = [
            n for n, s in meta["shards"].items() if not shard_intact(folder, int(n), s["pieces"], s["ids"], dtype)
        ]
        int(meta["next_shard"]), dict(meta["contents"]), dict(meta["files"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # a foreign or truncated meta.json
        raise StoreUnusable(f"damaged ({type(error).__name__}: {str(error)[:80]})") from None
    if broken:
        raise StoreUnusable(f"damaged (shard {broken[0]} is missing or truncated)")
    return meta


def _collect(folder: Path, meta: dict[str, Any], stamps: dict[Path, Union[Stamp, str]]) -> Optional[MidiStore]:
    """The store's view of the collection, or None when meta.json does not describe exactly these files."""
    known, contents = meta["files"], meta["contents"]
    if len(known) != sum(isinstance(s, tuple) for s in stamps.values()):
        return None  # files were added or removed
    numbers = sorted(int(n) for n in meta["shards"])
    position = {n: i for i, n in enumerate(numbers)}
    files: list[Path] = []
    refs: list[tuple[int, int]] = []
    reasons: dict[Path, str] = {}
    for path, stamp in stamps.items():
        if isinstance(stamp, str):
            reasons[path] = stamp
            continue
        entry = known.get(str(path))
        if entry is None or tuple(entry[:2]) != stamp:
            return None
        where = contents[entry[2]]
        if isinstance(where, str):
            reasons[path] = where
        else:
            files.append(path)
            refs.append((position[where[0]], where[1]))
    dtype = np.dtype(meta["dtype"])
    table = np.zeros((len(refs), 3), dtype=np.int64)
    if refs:
        where_in = np.asarray(refs, dtype=np.int64)
        table[:, 0] = where_in[:, 0]
        for i, number in enumerate(numbers):
            rows = where_in[:, 0] == i
            offsets = read_offsets(folder, number)
            table[rows, 1], table[rows, 2] = offsets[where_in[rows, 1]], offsets[where_in[rows, 1] + 1]
    shards = [shard_files(folder, n)[0] for n in numbers]
    return MidiStore(folder, dtype, shards, files, table, list(reasons), reasons)


def midi_store(
    files: Sequence[Union[str, Path]], codec: EventCodec, folder: Path, workers: Optional[int] = None
) -> MidiStore:
    """The store of `files` in `folder`, brought up to date first if needed (encoding only new content).

    Unusable files are skipped and named in one warning; StudioError if none is usable.
    """
    paths = [Path(os.path.abspath(f)) for f in files]
    if not paths:
        raise StudioError("no MIDI files to encode: pass a folder, a .mid file or a glob with MIDI files in it")
    stamps = _stamps(paths)
    store, _ = _open(folder, codec, stamps, notify=True)
    if store is None:
        with exclusive(folder.parent / f".{folder.name}.lock"):
            store, old = _open(folder, codec, stamps, notify=False)  # another process may have prepared it meanwhile
            if store is None:
                meta, encoded = _prepare(folder, codec, stamps, default_workers() if workers is None else workers, old)
                store = _collect(folder, meta, stamps)
                assert store is not None, "a store just prepared describes its files"
                store.encoded, store.built = encoded, True
    if not store.files:
        shown = ", ".join(p.name for p in paths[:5]) + (" ..." if len(paths) > 5 else "")
        raise StudioError(
            f"none of the {len(paths)} MIDI files could be read ({shown}): "
            "check they are Standard MIDI Files that contain notes"
        )
    warn_skipped([(p.name, store.reasons[p]) for p in store.skipped], len(paths), "MIDI files", stacklevel=3)
    return store


def _open(
    folder: Path, codec: EventCodec, stamps: dict[Path, Union[Stamp, str]], notify: bool
) -> tuple[Optional[MidiStore], Optional[dict[str, Any]]]:
    """The store if it describes exactly these files; else None and its usable meta.json, if any (to update)."""
    try:
        meta = read_meta(folder, codec)
        try:
            return _collect(folder, meta, stamps), meta
        except (KeyError, IndexError, TypeError, ValueError, OSError) as error:  # entries that do not add up
            raise StoreUnusable(f"damaged ({type(error).__name__}: {str(error)[:80]})") from None
    except StoreUnusable as why:
        if notify and str(why) != "missing":
            damaged = str(why).startswith("damaged")
            notice = "rebuilding a damaged cache entry" if damaged else "rebuilding the MIDI store"
            warnings.warn(f"{notice} {folder}: {why}", stacklevel=3)
        return None, None


def _prepare(
    folder: Path, codec: EventCodec, stamps: dict[Path, Union[Stamp, str]], workers: int, old: Optional[dict[str, Any]]
) -> tuple[dict[str, Any], int]:
    """Bring the store in `folder` (`old`: its usable meta.json, if any) up to date with the files in `stamps`.

    Returns the published meta.json and how many files were encoded.
    """
    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    old = old or {"shards": {}, "contents": {}, "files": {}, "next_shard": 0}  # missing, outdated or damaged
    for stale in folder.iterdir():  # what an interrupted preparation left: files no meta.json names
        if stale.name != META and not _named(stale.name, old["shards"]):
            stale.unlink(missing_ok=True)
    dtype = store_dtype(codec.vocab_size)
    digests = _digests(stamps, old["files"], started)
    contents = {d: old["contents"][d] for d in set(digests.values()) if d in old["contents"]}
    todo: dict[str, Path] = {}
    for path, digest in digests.items():
        if digest not in contents:
            todo.setdefault(digest, path)
    carried, dropped = _to_rewrite(folder, old, contents, writing=bool(todo))
    _check_disk(folder, todo, carried, dtype)
    writer = ShardWriter(folder, dtype, old["next_shard"])
    try:
        for number, pieces in carried.items():  # live pieces of mostly unused or small shards
            ids, offsets = read_ids(folder, number, dtype), read_offsets(folder, number)
            for digest, piece in pieces:
                contents[digest] = list(writer.add(ids[offsets[piece] : offsets[piece + 1]]))
        _encode_into(writer, todo, contents, codec, workers, started)
        next_shard = writer.close()
    finally:
        writer.abandon()
    for path in todo.values():
        if _stamps([path])[path] != stamps[path]:
            raise changed_error(path)  # written while it was encoded: its ids may not match its digest
    shards = {n: s for n, s in old["shards"].items() if int(n) not in dropped}
    meta = {
        "format": FORMAT,
        "dtype": dtype.name,
        "codec": codec.events_dict(),
        "shards": {**shards, **writer.written},
        "next_shard": next_shard,
        "contents": contents,
        "files": {str(path): [*stamps[path], digest] for path, digest in digests.items()},  # type: ignore[misc]
    }
    atomic_write_bytes(folder / META, json.dumps(meta, separators=(",", ":")).encode())
    for number in dropped:  # after publication: until then the old meta.json still names them
        for path in shard_files(folder, number):
            path.unlink(missing_ok=True)
    return meta, len(todo)


def _named(name: str, shards: dict[str, Any]) -> bool:
    stem, _, suffix = name.partition(".")
    return suffix in ("ids", "offsets") and stem.isdigit() and str(int(stem)) in shards


def _digests(stamps: dict[Path, Union[Stamp, str]], known: dict[str, list], started: float) -> dict[Path, str]:
    """Each readable file's content digest: remembered while its size and time stamp are unchanged, else read."""
    digests: dict[Path, str] = {}
    unknown = {p for p, s in stamps.items() if isinstance(s, tuple) and tuple(known.get(str(p), ())[:2]) != s}
    progress = ProgressLine("hashing MIDI files", sum(stamps[p][0] for p in unknown), started)  # type: ignore[misc]
    for path, stamp in stamps.items():
        if isinstance(stamp, str):
            continue
        if path in unknown:
            digests[path] = file_digest(path)
            progress.advance(stamp[0])
        else:
            digests[path] = known[str(path)][2]
    progress.close()
    return digests


def _to_rewrite(
    folder: Path, old: dict[str, Any], contents: dict[str, Any], writing: bool
) -> tuple[dict[int, list[tuple[str, int]]], set[int]]:
    """Shards whose live pieces are copied into the new shard (number -> [(digest, piece)]), and shards to delete."""
    live: dict[int, list[tuple[str, int]]] = {int(n): [] for n in old["shards"]}
    for digest, where in contents.items():
        if not isinstance(where, str):
            live[where[0]].append((digest, where[1]))
    carried: dict[int, list[tuple[str, int]]] = {}
    dropped: set[int] = set()
    for number, pieces in live.items():
        total = old["shards"][str(number)]["ids"]
        offsets, index = np.asarray(read_offsets(folder, number)), np.asarray([p for _, p in pieces], dtype=np.int64)
        used = int((offsets[index + 1] - offsets[index]).sum())
        if used * 2 < total or (writing and is_small(total)):
            dropped.add(number)
            if pieces:
                carried[number] = sorted(pieces, key=lambda item: item[1])
    return carried, dropped


def _check_disk(folder: Path, todo: dict[str, Path], carried: dict[int, list], dtype: np.dtype) -> None:
    """Refuse before writing when the new shard would not fit (about one id per byte of MIDI, plus copies)."""
    midi_bytes = sum(path.stat().st_size for path in todo.values())
    copies = sum(shard_files(folder, n)[0].stat().st_size for n in carried)
    needed = midi_bytes * dtype.itemsize + copies + 8 * len(todo) + 1_000_000
    check_free_space(folder, needed, "the MIDI store")


def _encode_into(
    writer: ShardWriter,
    todo: dict[str, Path],
    contents: dict[str, Any],
    codec: EventCodec,
    workers: int,
    started: float,
) -> None:
    """Encode each new content (in parallel) and append its ids to the writer; unusable ones keep their reason."""
    digests, paths = list(todo), list(todo.values())
    sizes = [path.stat().st_size for path in paths]
    progress = ProgressLine(f"encoding {len(paths)} MIDI files", sum(sizes), started)
    encoded = encode_many(paths, codec, workers, writer.dtype, lambda i: progress.advance(sizes[i]))
    for digest, (ids, error) in zip(digests, encoded):
        contents[digest] = error if ids is None else list(writer.add(ids))
    progress.close()
