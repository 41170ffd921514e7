"""The classification store: every labelled sequence encoded once into the cache, and memory-mapped after that.

Preparation reads the sources twice, a record at a time: first to assign splits, learn the vocabulary
from the training texts and collect the classes; then to encode each sequence (cut to `max_len`) and
append it to flat files. Resident memory stays bounded however large the manifest. The entry is keyed
by the sources' fingerprint and every setting, published atomically, and shared by DDP ranks.

    values.bin   token ids (uint16/uint32) or feature frames (float16, F per frame), all items end to end
    offsets.npy  int64 [N + 1]: item i is values[offsets[i]:offsets[i + 1]]
    targets.npy  int64 [N] class ids, or uint8 [N, C] for multi-label
    splits.npy   uint8 [N]: 0 train, 1 val, 2 test
    meta.json    format, codec, counts, skipped and truncated inputs
"""

from __future__ import annotations

import hashlib
import json
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from datamodules.progress_line import ProgressLine
from datamodules.skipped import warn_skipped
from datamodules.store_entry import StoreUnusable, prepared_entry, read_meta
from studio.codecs.classes import ClassCodec
from studio.codecs.labelled import SPLITS, Record
from studio.codecs.speech.features import FeatureSettings, read_audio
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.io import check_free_space

FORMAT = 1
KEPT_SKIPPED = 100


@dataclass(frozen=True)
class StoreSettings:
    """Everything that decides a store's contents besides the sources."""

    tokenizer: str = "word"
    vocab_size: int = 10000
    max_len: int = 100
    truncating: str = "pre"
    multi_label: bool = False
    labels: tuple[str, ...] = ()
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    seed: int = 0
    features: Optional[dict[str, Any]] = None


@dataclass
class Census:
    """What the first pass found: items per split, classes per split, texts or audio, and what was skipped."""

    items: Counter = field(default_factory=Counter)
    labels: dict[str, Counter] = field(default_factory=lambda: {s: Counter() for s in SPLITS})
    where: dict[tuple[str, str], str] = field(default_factory=dict)  # (split, label) -> first record with it
    kinds: set[str] = field(default_factory=set)
    text_chars: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # the first KEPT_SKIPPED of them
    skipped_count: int = 0


class ClassStore:
    """A prepared store, memory-mapped: the codec, and each item's values, target and split."""

    def __init__(self, folder: Path) -> None:
        meta = read_meta(folder, "meta.json", FORMAT)
        try:
            self.codec = ClassCodec.from_dict(meta["codec"])
            dtype = np.dtype(meta["dtype"])
            values = np.memmap(folder / "values.bin", dtype=dtype, mode="r") if meta["values"] else np.zeros(0, dtype)
            width = meta.get("width", 0)
            self.values = values.reshape(-1, width) if width else values
            self.offsets = np.load(folder / "offsets.npy", mmap_mode="r")
            self.targets = np.load(folder / "targets.npy", mmap_mode="r")
            self.splits = np.load(folder / "splits.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError, TypeError, StudioError) as error:
            raise StoreUnusable(f"damaged ({type(error).__name__})") from None
        if len(self.offsets) != len(self.splits) + 1 or self.offsets[-1] != len(self.values):
            raise StoreUnusable("damaged (its files do not agree)")
        self.meta, self.folder = meta, folder
        self.built = False  # whether this process prepared it (False: it was in the cache already)

    def indices(self, split: str) -> np.ndarray:
        """The items of `split`."""
        return np.flatnonzero(np.asarray(self.splits) == SPLITS.index(split))

    def lengths(self, items: np.ndarray) -> np.ndarray:
        """Steps of each of `items`."""
        return np.asarray(self.offsets[items + 1] - self.offsets[items])

    def item(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """One item's values (ids [T] or frames [T, F]) and its target (a class id, or a 0/1 row)."""
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return np.asarray(self.values[start:end]), np.asarray(self.targets[index])


def class_store(records: Callable[[], Iterator[Record]], key: str, settings: StoreSettings, cache: Path) -> ClassStore:
    """The store of `records` (a function giving them afresh), prepared into `cache/classify/<digest>` once."""
    digest = hashlib.sha256(json.dumps([key, asdict(settings), FORMAT], sort_keys=True).encode()).hexdigest()[:24]
    folder = cache / "classify" / digest
    store, built = prepared_entry(
        folder, ClassStore, lambda tmp: _prepare(records, settings, tmp), "classification store"
    )
    store.built = built
    _report(store)
    return store


def _report(store: ClassStore) -> None:
    meta = store.meta
    warn_skipped([tuple(s) for s in meta["skipped"]], meta["total"], "inputs", 4, meta["skipped_count"])
    truncated = meta["truncated"]
    if truncated:
        print(
            f"note: {truncated} of {meta['total']} inputs are longer than max_len {store.codec.max_len} and were cut "
            f"to it ({'keeping their end' if store.codec.truncating == 'pre' else 'keeping their start'}); "
            "--data.init_args.max_len changes it",
            flush=True,
        )


def _assigner(settings: StoreSettings) -> Callable[[Record], str]:
    """The split of each record, in order: the source's own, or drawn for it (the same on every pass)."""
    rng = np.random.default_rng(settings.seed)

    def split_of(record: Record) -> str:
        draw = rng.random()
        if record.split is not None:
            return record.split
        if draw < settings.test_fraction:
            return "test"
        return "val" if draw < settings.test_fraction + settings.val_fraction else "train"

    return split_of


def split_records(records: Callable[[], Iterator[Record]], settings: StoreSettings, split: str) -> Iterator[Record]:
    """The records of one split, assigned exactly as the store assigns them."""
    split_of = _assigner(settings)
    for record in records():
        if split_of(record) == split:
            yield record


class CensusPass:
    """Pass one over the records: their splits, classes and kinds counted while the training texts go by."""

    def __init__(self, records: Callable[[], Iterator[Record]], settings: StoreSettings) -> None:
        self.records, self.settings, self.census = records, settings, Census()

    def training_texts(self) -> Iterator[str]:
        """Every training text, in order (for the vocabulary); the census is complete once they are all read."""
        census, split_of = self.census, _assigner(self.settings)
        for record in self.records():
            split = split_of(record)
            if record.text is not None and not record.text.strip():
                census.skipped_count += 1
                if len(census.skipped) < KEPT_SKIPPED:
                    census.skipped.append((record.name, "empty text"))
                continue
            census.kinds.add("text" if record.text is not None else "audio")
            census.items[split] += 1
            for label in record.labels:
                census.labels[split][label] += 1
                census.where.setdefault((split, label), record.name)
            if record.text is not None:
                census.text_chars += len(record.text)
                if split == "train":
                    yield record.text

    def run(self) -> Census:
        """The census, reading every record without learning anything (audio data)."""
        for _ in self.training_texts():
            pass
        return self.census


def _prepare(records: Callable[[], Iterator[Record]], settings: StoreSettings, folder: Path) -> None:
    started = time.monotonic()
    first = CensusPass(records, settings)
    text_codec = None
    if settings.features is None:
        text_codec = TextCodec.train(first.training_texts(), settings.tokenizer, settings.vocab_size)
    census = first.run() if settings.features is not None else first.census
    codec = _codec(census, settings, text_codec)
    items = sum(census.items.values())
    per_step = codec.features.num_features * 2 if codec.features else 4
    check_free_space(
        folder.parent,
        min(items * codec.max_len, census.text_chars or items * codec.max_len) * per_step,
        "the classification store",
    )
    truncated = _encode(records, settings, codec, folder, ProgressLine("classification store", items, started))
    meta = {
        "format": FORMAT,
        "codec": codec.to_dict(),
        "dtype": "float16" if codec.features else ("uint16" if codec.input_size <= 2**16 else "uint32"),
        "width": codec.features.num_features if codec.features else 0,
        "values": (folder / "values.bin").stat().st_size > 0,
        "items": {s: census.items[s] for s in SPLITS},
        "total": items + census.skipped_count,
        "skipped_count": census.skipped_count,
        "truncated": truncated,
        "skipped": census.skipped,
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _codec(census: Census, settings: StoreSettings, text: Optional[TextCodec]) -> ClassCodec:
    """The classes (from the training split, or as given) checked against every split; the codec."""
    if len(census.kinds) > 1:
        raise StudioError("the data mixes texts and audio files: a classifier reads one or the other")
    if not census.items["train"]:
        raise StudioError("the training split is empty: give labelled examples (or lower val_fraction/test_fraction)")
    train = census.labels["train"]
    labels = settings.labels or tuple(sorted(train))
    for label in train:
        if label not in labels:
            raise StudioError(
                f"{census.where[('train', label)]}: its train label {label!r} is not one of --data.init_args.labels: "
                "add it there, or leave the labels out to take them from the data"
            )
    for label in labels:
        if not train[label]:
            raise StudioError(
                f"class {label!r} has no training examples: add some, or remove it from --data.init_args.labels"
            )
    for split in ("val", "test"):
        for label in census.labels[split]:
            if label not in labels:
                raise StudioError(
                    f"{census.where[(split, label)]}: its {split} label {label!r} never occurs in the training data: "
                    "fix the label, or add training examples of it"
                )
    if not settings.multi_label and any(census.labels[s].total() != census.items[s] for s in SPLITS):
        raise StudioError(
            "some records have several labels: pass --data.init_args.multi_label true for multi-label data"
        )
    features = FeatureSettings.from_dict(settings.features) if settings.features is not None else None
    return ClassCodec(labels, settings.max_len, settings.truncating, settings.multi_label, text, features)


def _encode(
    records: Callable[[], Iterator[Record]],
    settings: StoreSettings,
    codec: ClassCodec,
    folder: Path,
    progress: ProgressLine,
) -> int:
    """Pass two: each item encoded, cut and appended to flat files; the number of items that were cut."""
    split_of = _assigner(settings)
    dtype = np.float16 if codec.features else (np.uint16 if codec.input_size <= 2**16 else np.uint32)
    # Compact arrays, not lists of Python ints: 8 bytes an item, whatever the number of items.
    offsets, targets, splits = array("q", [0]), array("q"), array("B")
    truncated = 0
    with open(folder / "values.bin", "wb") as values, open(folder / "targets.bin", "wb") as rows:
        for record in records():
            split = split_of(record)
            if record.text is not None and not record.text.strip():
                continue
            sequence = codec.encode_text(record.text) if record.text is not None else _frames(codec, record)
            truncated += len(sequence) > codec.max_len
            values.write(np.ascontiguousarray(codec.cut(sequence), dtype=dtype).tobytes())
            offsets.append(offsets[-1] + min(len(sequence), codec.max_len))
            if codec.multi_label:
                row = np.zeros(codec.num_classes, dtype=np.uint8)
                row[codec.label_ids(record.labels)] = 1
                rows.write(row.tobytes())
            else:
                targets.append(codec.label_id(record.labels[0]))
            splits.append(SPLITS.index(split))
            progress.advance(1)
    progress.close()
    np.save(folder / "offsets.npy", np.frombuffer(offsets, dtype=np.int64))
    if codec.multi_label:
        stored = np.fromfile(folder / "targets.bin", dtype=np.uint8).reshape(-1, codec.num_classes)
    else:
        stored = np.frombuffer(targets, dtype=np.int64)
    np.save(folder / "targets.npy", stored)
    (folder / "targets.bin").unlink()
    np.save(folder / "splits.npy", np.frombuffer(splits, dtype=np.uint8))
    return truncated


def _frames(codec: ClassCodec, record: Record) -> np.ndarray:
    samples, sr = read_audio(str(record.audio))
    return codec.encode_audio(samples, sr)
