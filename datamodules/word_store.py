"""The word-tagging store: tagged sentences encoded once into the cache, memory-mapped after that.

Preparation reads the sentences twice, one at a time: first to count the training words and the tags
(the codec), then to encode every sentence and append it to flat files, so memory stays bounded
however large the corpus. Keyed by the sources' fingerprint and every setting, published atomically.

    words.bin    uint32 word ids, all sentences end to end
    chars.bin    uint16/uint32 [tokens, max_word_len] character ids
    labels.bin   uint16 tag ids
    offsets.npy  int64 [N + 1]; splits.npy uint8 [N] (0 train, 1 val, 2 test); meta.json
"""

from __future__ import annotations

import hashlib
import json
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from datamodules.progress_line import ProgressLine
from datamodules.skipped import warn_skipped
from datamodules.store_entry import StoreUnusable, prepared_entry, read_meta
from studio.codecs.conll import Sentence
from studio.codecs.labelled import SPLITS
from studio.codecs.word_tags import WordTagCodec
from studio.errors import StudioError
from studio.io import check_free_space

FORMAT = 1
# Sentences with their split when the source fixes it (None: drawn by val_fraction).
Tagged = Iterator[tuple[Sentence, "str | None"]]


@dataclass(frozen=True)
class WordStoreSettings:
    """Everything that decides a store's contents besides the sources."""

    num_words: int = 20000
    lowercase: bool = True
    max_word_len: int = 16
    val_fraction: float = 0.1
    seed: int = 0


class WordStore:
    """A prepared store, memory-mapped: the codec, and each sentence's words, characters, tags and split."""

    def __init__(self, folder: Path) -> None:
        meta = read_meta(folder, "meta.json", FORMAT)
        try:
            self.codec = WordTagCodec.from_dict(meta["codec"])
            tokens = int(meta["tokens"])
            self.words = _map(folder / "words.bin", np.uint32, tokens)
            self.chars = _map(folder / "chars.bin", np.dtype(meta["char_dtype"]), tokens * self.codec.max_word_len)
            self.chars = self.chars.reshape(tokens, self.codec.max_word_len)
            self.labels = _map(folder / "labels.bin", np.uint16, tokens)
            self.offsets = np.load(folder / "offsets.npy", mmap_mode="r")
            self.splits = np.load(folder / "splits.npy", mmap_mode="r")
        except (OSError, ValueError, KeyError, TypeError, StudioError) as error:
            raise StoreUnusable(f"damaged ({type(error).__name__})") from None
        if len(self.offsets) != len(self.splits) + 1 or self.offsets[-1] != tokens:
            raise StoreUnusable("damaged (its files do not agree)")
        self.meta, self.folder = meta, folder
        self.built = False  # whether this process prepared it (False: it was in the cache already)

    def indices(self, split: str) -> np.ndarray:
        """The sentences of `split`."""
        return np.flatnonzero(np.asarray(self.splits) == SPLITS.index(split))

    def lengths(self, items: np.ndarray) -> np.ndarray:
        """Words of each of `items`."""
        return np.asarray(self.offsets[items + 1] - self.offsets[items])

    def sentence(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One sentence's word ids [T], character ids [T, L] and tag ids [T]."""
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        return np.asarray(self.words[start:end]), np.asarray(self.chars[start:end]), np.asarray(self.labels[start:end])


def _map(path: Path, dtype: np.dtype | type, count: int) -> np.ndarray:
    return np.memmap(path, dtype=dtype, mode="r", shape=(count,)) if count else np.zeros(0, dtype=dtype)


def word_store(sentences: Callable[[], Tagged], key: str, settings: WordStoreSettings, cache: Path) -> WordStore:
    """The store of `sentences` (a function giving them afresh), prepared into `cache/word_tags/<digest>` once."""
    digest = hashlib.sha256(json.dumps([key, asdict(settings), FORMAT], sort_keys=True).encode()).hexdigest()[:24]
    folder = cache / "word_tags" / digest
    store, built = prepared_entry(
        folder, WordStore, lambda tmp: _prepare(sentences, settings, tmp), "word-tagging store"
    )
    store.built = built
    meta = store.meta
    warn_skipped([tuple(s) for s in meta["skipped"]], meta["total"], "sentences", 3, meta["skipped_count"])
    return store


def split_sentences(sentences: Callable[[], Tagged], settings: WordStoreSettings) -> Iterator[tuple[Sentence, str]]:
    """Each sentence with its split: the source's own, or drawn by `val_fraction` (the same on every pass)."""
    rng = np.random.default_rng(settings.seed)
    for sentence, fixed in sentences():
        draw = rng.random()
        yield sentence, fixed or ("val" if draw < settings.val_fraction else "train")


def _prepare(sentences: Callable[[], Tagged], settings: WordStoreSettings, folder: Path) -> None:
    started = time.monotonic()
    words: Counter = Counter()
    tags: dict[str, Counter] = {split: Counter() for split in SPLITS}
    first: dict[tuple[str, str], str] = {}
    counts: Counter = Counter()
    skipped: list[tuple[str, str]] = []  # the first 100 of them
    skipped_count = 0
    tokens = 0
    for sentence, split in split_sentences(sentences, settings):
        if not sentence.words:
            skipped_count += 1
            if len(skipped) < 100:
                skipped.append((sentence.source, "no words"))
            continue
        counts[split] += 1
        tokens += len(sentence.words)
        if split == "train":
            words.update(sentence.words)
        for label in sentence.labels:
            tags[split][label] += 1
            first.setdefault((split, label), sentence.source)
    if not counts["train"]:
        raise StudioError("the training split has no sentences: give tagged sentences (or lower val_fraction)")
    for split in ("val", "test"):
        for label in tags[split]:
            if label not in tags["train"]:
                raise StudioError(
                    f"{first[(split, label)]}: its {split} tag {label!r} never occurs in the training data: "
                    "fix the tag, or add training sentences with it"
                )
    codec = WordTagCodec.build(words, tags["train"], settings.num_words, settings.lowercase, settings.max_word_len)
    char_dtype = np.uint16 if len(codec.chars) < 2**16 else np.uint32
    check_free_space(
        folder.parent, tokens * (6 + codec.max_word_len * np.dtype(char_dtype).itemsize), "the word-tagging store"
    )
    progress = ProgressLine("word-tagging store", sum(counts.values()), started)
    offsets, splits = array("q", [0]), array("B")
    with (
        open(folder / "words.bin", "wb") as w,
        open(folder / "chars.bin", "wb") as c,
        open(folder / "labels.bin", "wb") as lab,
    ):
        for sentence, split in split_sentences(sentences, settings):
            if not sentence.words:
                continue
            word_ids, char_ids = codec.encode(sentence.words)
            w.write(word_ids.astype(np.uint32).tobytes())
            c.write(char_ids.astype(char_dtype).tobytes())
            lab.write(codec.label_ids(sentence.labels, f"{sentence.source}: ").astype(np.uint16).tobytes())
            offsets.append(offsets[-1] + len(word_ids))
            splits.append(SPLITS.index(split))
            progress.advance(1)
    progress.close()
    np.save(folder / "offsets.npy", np.frombuffer(offsets, dtype=np.int64))
    np.save(folder / "splits.npy", np.frombuffer(splits, dtype=np.uint8))
    meta = {
        "format": FORMAT,
        "codec": codec.to_dict(),
        "char_dtype": np.dtype(char_dtype).name,
        "tokens": int(offsets[-1]),
        "sentences": {split: counts[split] for split in SPLITS},
        "total": sum(counts.values()) + skipped_count,
        "skipped_count": skipped_count,
        "skipped": skipped,
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
