"""The speech feature store: every utterance's features computed once into one packed, memory-mapped store.

`<cache>/speech/<key>/` holds, utterance after utterance in one canonical order:
  features.bin      float32 or float16 [frames, num_features] (what `extract` gives, CMVN included)
  frame_labels.bin  int16 [frames]: the label id at each frame (IGNORE_INDEX where none)
  label_ids.bin     int16 or int32 [labels]: each utterance's label sequence (repeats merged if asked)
  offsets.npy       int64 [utterances + 1, 2]: where each utterance's frames and labels start
  meta.json         format, dtypes, counts, feature settings, label set, and the digest of the inputs
The key is that digest: every audio file's path, size and modification time, its labels and alignment,
and the settings that change what is stored (features, label set, repeat merging, dtype). Training
maps the files, so resident memory is what the batches touch, whatever the corpus's size; every DDP
rank maps the same files. Preparation computes features in a few threads, in bounded memory, writes
them into a temporary folder and publishes it atomically under a lock (see datamodules/store_entry.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.progress_line import ProgressLine
from datamodules.store_entry import StoreUnusable, prepared_entry, read_meta
from studio.codecs.speech import FeatureSettings, LabelSet, frame_labels
from studio.codecs.speech import features as speech_features
from studio.codecs.speech.corpus import Utterance
from studio.codecs.speech.ctc import collapse
from studio.errors import StudioError
from studio.io import check_free_space, disk_error

# Version of the layout (and of the feature code's output); a store of another version is rebuilt with a notice.
FORMAT = 1
FEATURES, FRAME_LABELS, LABEL_IDS, OFFSETS, META = (
    "features.bin",
    "frame_labels.bin",
    "label_ids.bin",
    "offsets.npy",
    "meta.json",
)
DTYPES = ("float32", "float16")
FRAME_LABEL_DTYPE = np.dtype(np.int16)


@dataclass(frozen=True)
class StoreSettings:
    """What, besides the audio and its labels, decides the store's contents."""

    features: FeatureSettings
    labels: LabelSet
    merge_repeats: bool = True
    dtype: str = "float32"

    def __post_init__(self) -> None:
        check_dtype(self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """Plain data, for the key and meta.json."""
        return {
            "features": self.features.to_dict(),
            "labels": self.labels.to_dict(),
            "merge_repeats": bool(self.merge_repeats),
            "dtype": self.dtype,
        }


def check_dtype(dtype: str) -> None:
    """A one-line error unless `dtype` is one the store keeps features in."""
    if dtype not in DTYPES:
        raise StudioError(f"feature_dtype={dtype!r} is not supported: use {' or '.join(DTYPES)}")


def utterance_key(utt: Utterance) -> str:
    """An utterance's identity in the store: its audio file, labels and alignment (speaker and split do not matter)."""
    return json.dumps([str(utt.audio.resolve()), utt.labels, utt.segments], separators=(",", ":"))


def label_dtype(labels: LabelSet) -> np.dtype:
    """The smallest signed type holding every label id."""
    return np.dtype(np.int16 if len(labels) <= np.iinfo(np.int16).max else np.int32)


@dataclass
class FeatureStore:
    """A published store mapped read-only; `index` gives the entry of each `utterance_key` (sorted keys, in order)."""

    folder: Path
    meta: dict[str, Any]
    features: np.ndarray
    frame_labels: np.ndarray
    label_ids: np.ndarray
    offsets: np.ndarray
    index: dict[str, int] = field(default_factory=dict)
    built: bool = False  # whether this process prepared it (False: it was in the cache already)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle (spawned loader workers, DDP spawn) as the folder: each process maps the files itself.

        `index` stays behind: only the data module uses it, to find an utterance's entry.
        """
        return (open_store, (self.folder,))

    @property
    def lengths(self) -> np.ndarray:
        """Frames of every entry."""
        return np.diff(self.offsets[:, 0])

    def labels_of(self, entry: int) -> np.ndarray:
        """The label sequence of `entry` (int64)."""
        start, end = self.offsets[entry, 1], self.offsets[entry + 1, 1]
        return np.asarray(self.label_ids[start:end], dtype=np.int64)

    def item(self, entry: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(features [T, F] float32, frame labels [T] int64, label ids [S] int64) of `entry`, copied out of the maps."""
        start, end = self.offsets[entry, 0], self.offsets[entry + 1, 0]
        features = np.array(self.features[start:end], dtype=np.float32)
        return features, np.asarray(self.frame_labels[start:end], dtype=np.int64), self.labels_of(entry)


def open_store(folder: Path) -> FeatureStore:
    """Map a published store; StoreUnusable when it is of another format or damaged."""
    meta = read_meta(folder, META, FORMAT)
    try:
        frames, labels, width = int(meta["frames"]), int(meta["labels"]), int(meta["num_features"])
        dtype, ids_dtype = np.dtype(meta["dtype"]), np.dtype(meta["label_dtype"])
        offsets = np.load(folder / OFFSETS, mmap_mode="r", allow_pickle=False)
        if offsets.shape != (int(meta["utterances"]) + 1, 2) or offsets[-1].tolist() != [frames, labels]:
            raise ValueError(f"{OFFSETS} does not match {META}")
        maps = []
        for name, kind, shape in (
            (FEATURES, dtype, (frames, width)),
            (FRAME_LABELS, FRAME_LABEL_DTYPE, (frames,)),
            (LABEL_IDS, ids_dtype, (labels,)),
        ):
            if (folder / name).stat().st_size != int(np.prod(shape)) * kind.itemsize:
                raise ValueError(f"{name} does not hold {shape} values")
            # An empty file cannot be mapped; an empty array stands in for it.
            maps.append(np.memmap(folder / name, kind, "r", shape=shape) if shape[0] else np.zeros(shape, kind))
    except Exception as error:  # a truncated or foreign entry: missing keys, wrong sizes
        raise StoreUnusable(f"damaged ({type(error).__name__}: {str(error)[:80]})") from None
    return FeatureStore(folder, meta, maps[0], maps[1], maps[2], offsets)


def feature_store(
    utterances: Sequence[Utterance], settings: StoreSettings, cache: Path, workers: int = 1
) -> FeatureStore:
    """The store of `utterances` (duplicates once) under `settings` in `cache`/speech/, prepared first if needed."""
    entries = {utterance_key(u): u for u in utterances}
    keys = sorted(entries)
    stamps = [_stamp(entries[k].audio) for k in keys]
    digest = hashlib.sha256(json.dumps(settings.to_dict(), sort_keys=True).encode())
    for key, stamp in zip(keys, stamps):
        digest.update(f"{key}\t{stamp[0]}\t{stamp[1]}\n".encode())
    folder = cache / "speech" / digest.hexdigest()[:24]

    def prepare(tmp: Path) -> None:
        _prepare(tmp, [entries[k] for k in keys], [s[0] for s in stamps], settings, digest.hexdigest(), workers)

    store, built = prepared_entry(folder, open_store, prepare, "speech feature store")
    store.built = built
    if len(store) != len(keys):  # the digest covers the keys, so only a foreign folder gets here
        raise StudioError(f"{folder} holds {len(store)} utterances, not {len(keys)}: delete it and run again")
    store.index = {key: i for i, key in enumerate(keys)}
    return store


def _stamp(audio: Path) -> tuple[int, int]:
    try:
        stat = audio.stat()
    except OSError:
        raise StudioError(f"audio file {audio} not found; check the corpus path or rebuild the manifest") from None
    return stat.st_size, stat.st_mtime_ns


def _features_in_order(
    utterances: Sequence[Utterance], settings: FeatureSettings, workers: int
) -> Iterator[np.ndarray]:
    """Features of each utterance in order, computed `workers` at a time with at most 2 x `workers` held."""

    def compute(utt: Utterance) -> np.ndarray:
        samples, sr = speech_features.read_audio(utt.audio)  # through the module: tests count the reads
        return speech_features.extract(samples, sr, settings)

    if workers <= 1:
        yield from map(compute, utterances)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:  # numpy and scipy release the GIL in FFTs
        pending: list[Future[np.ndarray]] = []
        for utt in utterances:
            pending.append(pool.submit(compute, utt))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _prepare(
    tmp: Path, utterances: Sequence[Utterance], sizes: list[int], settings: StoreSettings, digest: str, workers: int
) -> None:
    """Compute and write every utterance's features and labels into `tmp`, then its offsets and meta.json."""
    started = time.monotonic()
    progress = ProgressLine(f"computing speech features of {len(utterances)} utterances", sum(sizes), started)
    dtype, ids_dtype = np.dtype(settings.dtype), label_dtype(settings.labels)
    offsets = np.zeros((len(utterances) + 1, 2), dtype=np.int64)
    done, total = 0, sum(sizes)
    try:
        with (
            open(tmp / FEATURES, "wb") as features_file,
            open(tmp / FRAME_LABELS, "wb") as frames_file,
            open(tmp / LABEL_IDS, "wb") as labels_file,
        ):
            computed = _features_in_order(utterances, settings.features, workers)
            for entry, (utt, size, features) in enumerate(zip(utterances, sizes, computed)):
                ids = settings.labels.encode(utt.labels)
                if settings.merge_repeats:
                    ids = collapse(ids)
                per_frame = frame_labels(utt.segments or [], len(features), settings.features, settings.labels)
                features_file.write(features.astype(dtype).tobytes())
                frames_file.write(per_frame.astype(FRAME_LABEL_DTYPE).tobytes())
                labels_file.write(np.asarray(ids, dtype=ids_dtype).tobytes())
                offsets[entry + 1] = offsets[entry] + (len(features), len(ids))
                progress.advance(size)
                # Refused as soon as the rest cannot fit, at as many bytes per byte of audio as so far.
                done += size
                stored = features_file.tell() + frames_file.tell() + labels_file.tell()
                rest = stored * (total - done) / done if done else 0.0
                check_free_space(tmp, rest, "the rest of the speech feature store")
        np.save(tmp / OFFSETS, offsets, allow_pickle=False)
        meta = {
            "format": FORMAT,
            "dtype": dtype.name,
            "label_dtype": ids_dtype.name,
            "num_features": settings.features.num_features,
            "utterances": len(utterances),
            "frames": int(offsets[-1, 0]),
            "labels": int(offsets[-1, 1]),
            "settings": settings.to_dict(),
            "digest": digest,
        }
        (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
    except OSError as error:
        raise disk_error("the speech feature store", error) from None
    progress.close()
