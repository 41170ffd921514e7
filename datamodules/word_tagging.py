"""WordTaggingDataModule: tagged sentences (CoNLL columns or CoNLL-U) as padded, length-bucketed batches.

Sources: files given by path (CoNLL-2000/2003 column files, `.conllu`, gzipped or not; `val_path` and
`test_path` fix those splits), or a named corpus: `mixed_languages` (embedded: sentences of one of six
languages with passages of another, tagged BIO), `conll2000` (chunking) or `ud_ewt` (universal parts of
speech), downloaded once when asked. Sentences are encoded once into a store in the cache
(datamodules/word_store.py) and memory-mapped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import numpy as np

from datamodules.base import BatchShape
from datamodules.mixed_languages import mixed_sentences
from datamodules.stored import StoredDataModule
from datamodules.tagged_corpora import REMOTE, tagged_files
from datamodules.word_batches import SentenceItems, collate_sentences
from datamodules.word_store import Tagged, WordStore, WordStoreSettings, split_sentences, word_store
from studio.codecs.conll import Sentence, read_tagged
from studio.codecs.labelled import fingerprint
from studio.codecs.word_tags import WordTagCodec
from studio.errors import StudioError
from studio.io import cache_root

DATASETS = ("mixed_languages", *REMOTE)


class WordTaggingDataModule(StoredDataModule):
    """Word tagging data: a store of encoded sentences, split into train, validation and test."""

    collate = staticmethod(collate_sentences)
    kind, unit = "word-tagging store", "sentences"

    def __init__(
        self,
        path: Optional[str] = None,
        val_path: Optional[str] = None,
        test_path: Optional[str] = None,
        dataset: str = "mixed_languages",
        label_column: int = -1,
        word_column: int = 0,
        field: str = "upos",
        encoding: str = "utf-8",
        num_words: int = 20000,
        lowercase: bool = True,
        max_word_len: int = 16,
        val_fraction: float = 0.1,
        batch_size: int = 32,
        val_batch_size: Optional[int] = None,
        num_workers: int = 0,
        seed: int = 0,
        mixed_sentences: int = 20000,
        cache_dir: Optional[str] = None,
    ) -> None:
        """`path` (files) wins over `dataset`; `label_column` picks the tag column of column files, `field` of CoNLL-U.

        `mixed_sentences`: training sentences of the embedded `mixed_languages` corpus (a tenth as many each
        for validation and testing).
        """
        super().__init__()
        if dataset not in DATASETS:
            raise StudioError(
                f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}, or pass --data.init_args.path"
            )
        if not 0 <= val_fraction < 1:
            raise StudioError(f"--data.init_args.val_fraction {val_fraction} must be in [0, 1), e.g. 0.1")
        if batch_size < 1 or (val_batch_size is not None and val_batch_size < 1) or num_workers < 0:
            raise StudioError("batch_size and val_batch_size must be >= 1 and num_workers >= 0")
        if num_words < 3 or max_word_len < 1:
            raise StudioError("num_words must be >= 3 (padding, unknown, and words) and max_word_len >= 1")
        self.path, self.val_path, self.test_path, self.dataset = path, val_path, test_path, dataset
        self.reading = {"label_column": label_column, "word_column": word_column, "field": field, "encoding": encoding}
        self.settings = WordStoreSettings(num_words, lowercase, max_word_len, val_fraction, seed)
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.seed = num_workers, seed
        if mixed_sentences < 10:
            raise StudioError(f"--data.init_args.mixed_sentences {mixed_sentences} must be >= 10")
        held = max(mixed_sentences // 10, 1)
        self.mixed_counts = {"train": mixed_sentences, "val": held, "test": held}
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()

    # -- sources and the store ---------------------------------------------------------------
    def _files(self) -> list[tuple[Path, Optional[str]]]:
        if not self.path:
            return list(tagged_files(self.dataset, self.cache_dir)) if self.dataset in REMOTE else []
        given = [(self.path, None), (self.val_path, "val"), (self.test_path, "test")]
        found = []
        for name, split in given:
            if name:
                root = Path(name).expanduser()
                if not root.exists():
                    raise StudioError(f"{name} does not exist: pass a CoNLL or CoNLL-U file (or a folder of them)")
                files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
                found += [(f, split) for f in files]
        return found

    def _sentences(self) -> Tagged:
        if not self.path and self.dataset == "mixed_languages":
            yield from mixed_sentences(self.seed, self.mixed_counts)
            return
        for file, split in self._files():
            options = {"encoding": self.reading["encoding"]}
            if file.name.endswith((".conllu", ".conllu.gz")):
                options["field"] = self.reading["field"]
            else:
                options.update(label_column=self.reading["label_column"], word_column=self.reading["word_column"])
            for sentence in read_tagged(file, **options):
                yield sentence, split

    def _key(self) -> str:
        files = self._files()
        base = fingerprint(f for f, _ in files) if files else f"mixed_languages-v1-{self.mixed_counts['train']}"
        return f"{base}-{sorted(self.reading.items())}"

    def build_store(self) -> WordStore:
        """The word-tagging store of the sources."""
        return word_store(self._sentences, self._key(), self.settings, self.cache_dir)

    def items(self, store: WordStore, indices: np.ndarray) -> SentenceItems:
        """The items of some of the store's sentences."""
        return SentenceItems(store, indices)

    @property
    def codec(self) -> WordTagCodec:
        """Word and character vocabularies and tags: they travel inside every checkpoint."""
        return self.store().codec

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides."""
        codec = self.codec
        return {"num_words": len(codec.words), "num_chars": len(codec.chars), "labels": list(codec.labels)}

    def batch_shape(self) -> BatchShape:
        """Up to a batch size of sentences (no more than a split holds) x its longest sentence's words, training's
        or validation's, the larger; only the batch size sets it (sentences are never cut)."""
        store, shapes = self.store(), []
        for split, rows, name in (
            ("train", self.batch_size, "batch_size"),
            ("val", self.val_batch_size, "val_batch_size"),
        ):
            lengths = store.lengths(store.indices(split))
            steps = max(1, int(lengths.max(initial=1)))
            shapes.append(BatchShape(max(1, min(rows, len(lengths))), steps, (name, name)))
        return max(shapes, key=lambda shape: shape.rows * shape.steps)

    def held_out(self, split: str) -> Iterator[Sentence]:
        """The tagged sentences of `split` ("val" or "test"; test is validation when there is none)."""
        wanted = self.held_out_split(split)
        return (sentence for sentence, found in split_sentences(self._sentences, self.settings) if found == wanted)
