"""ClassificationDataModule: labelled texts or audio clips as padded, length-bucketed batches (many-to-one).

Sources: a JSONL/CSV manifest (`{"text": ..., "label": ...}` or `{"audio": ..., "label": ...}`), a
folder with a folder per class (or `train/` and `test/` folders of class folders, as aclImdb ships),
or a named dataset: `languages` (embedded: six languages that ship with music21) or `imdb` (the Large
Movie Review Dataset, downloaded once when asked). Everything is encoded once into a store in the
cache (datamodules/class_store.py) and memory-mapped, so memory does not grow with the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import numpy as np

from datamodules.base import BatchShape
from datamodules.class_batches import ClassItems, collate
from datamodules.class_store import ClassStore, StoreSettings, class_store, split_records
from datamodules.imdb import imdb_folder
from datamodules.languages import language_records
from datamodules.stored import StoredDataModule
from studio.codecs.classes import TRUNCATING, ClassCodec
from studio.codecs.labelled import Record, fingerprint, records_of, source_files
from studio.codecs.speech.features import FeatureSettings
from studio.errors import StudioError
from studio.io import cache_root

DATASETS = ("languages", "imdb")


class ClassificationDataModule(StoredDataModule):
    """Sequence classification data: a store of encoded sequences, split into train, validation and test."""

    collate = staticmethod(collate)
    kind, unit = "classification store", "sequences"

    def __init__(
        self,
        path: Optional[str] = None,
        val_path: Optional[str] = None,
        test_path: Optional[str] = None,
        dataset: str = "languages",
        tokenizer: str = "word",
        num_words: int = 10000,
        max_len: int = 100,
        truncating: str = "pre",
        multi_label: bool = False,
        labels: Optional[list[str]] = None,
        text_field: str = "text",
        audio_field: str = "audio",
        label_field: str = "label",
        encoding: str = "utf-8",
        val_fraction: float = 0.2,
        test_fraction: float = 0.0,
        batch_size: int = 64,
        val_batch_size: Optional[int] = None,
        bucket: bool = True,
        num_workers: int = 0,
        seed: int = 0,
        sample_rate: int = 16000,
        n_mels: int = 40,
        cache_dir: Optional[str] = None,
    ) -> None:
        """`path` (a manifest or a folder) wins over `dataset`; `tokenizer` is word, bpe or char (`num_words` its size)."""
        super().__init__()
        if dataset not in DATASETS:
            raise StudioError(
                f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}, or pass --data.init_args.path"
            )
        if truncating not in TRUNCATING:
            raise StudioError(
                f"--data.init_args.truncating {truncating!r} must be 'pre' (keep the end) or 'post' (keep the start)"
            )
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= value < 1:
                raise StudioError(f"--data.init_args.{name} {value} must be in [0, 1), e.g. 0.2")
        if val_fraction + test_fraction >= 1:
            raise StudioError("val_fraction + test_fraction leave nothing to train on: keep their sum below 1")
        if batch_size < 1 or (val_batch_size is not None and val_batch_size < 1) or num_workers < 0:
            raise StudioError("batch_size and val_batch_size must be >= 1 and num_workers >= 0")
        if isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1:
            raise StudioError(f"--data.init_args.max_len {max_len!r} must be a whole number >= 1, e.g. 100")
        self.path, self.val_path, self.test_path, self.dataset = path, val_path, test_path, dataset
        self.fields, self.encoding = (text_field, audio_field, label_field), encoding
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.bucket, self.num_workers, self.seed = bucket, num_workers, seed
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        features = FeatureSettings(sample_rate=sample_rate, n_mels=n_mels).to_dict() if self._audio() else None
        self.settings = StoreSettings(
            tokenizer,
            num_words,
            max_len,
            truncating,
            multi_label,
            tuple(labels or ()),
            val_fraction,
            test_fraction,
            seed,
            features,
        )

    # -- sources and the store ---------------------------------------------------------------
    def _paths(self) -> list[tuple[Path, Optional[str]]]:
        given = [(self.path, None), (self.val_path, "val"), (self.test_path, "test")]
        return [(Path(p).expanduser(), split) for p, split in given if p]

    def _audio(self) -> bool:
        """Whether the data is audio: its first record names an audio file (named datasets are text)."""
        if not self.path:
            return False
        first = next(self._records(), None)
        return first is not None and first.audio is not None

    def _records(self) -> Iterator[Record]:
        if self.path:
            for path, split in self._paths():
                yield from records_of(path, split, self.fields, self.encoding)
        elif self.dataset == "imdb":
            yield from records_of(imdb_folder(self.cache_dir), None, self.fields, self.encoding)
        else:
            yield from language_records(self.seed)

    def _key(self) -> str:
        if self.path:
            return fingerprint(f for path, _ in self._paths() for f in source_files(path))
        if self.dataset == "imdb":
            return fingerprint(source_files(imdb_folder(self.cache_dir)))
        return "languages-v1"

    def build_store(self) -> ClassStore:
        """The classification store of the sources."""
        return class_store(self._records, self._key(), self.settings, self.cache_dir)

    def items(self, store: ClassStore, indices: np.ndarray) -> ClassItems:
        """The items of some of the store's records."""
        return ClassItems(store, indices)

    @property
    def codec(self) -> ClassCodec:
        """Vocabulary (or features), length cut and classes: they travel inside every checkpoint."""
        return self.store().codec

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides."""
        codec = self.codec
        return {
            "input_size": codec.input_size,
            "num_classes": codec.num_classes,
            "input_kind": "tokens" if codec.text is not None else "frames",
            "multi_label": codec.multi_label,
        }

    def batch_shape(self) -> BatchShape:
        """Up to a batch size of sequences (no more than a split holds) x its longest stored sequence (cut to
        `max_len`), training's or validation's, the larger."""
        store, shapes = self.store(), []
        for split, rows, name in (("train", self.batch_size, ""), ("val", self.val_batch_size, "val_")):
            lengths = store.lengths(store.indices(split))
            steps = max(1, int(lengths.max(initial=1)))
            shapes.append(BatchShape(max(1, min(rows, len(lengths))), steps, (f"{name}batch_size", "max_len")))
        return max(shapes, key=lambda shape: shape.rows * shape.steps)

    def held_out(self, split: str) -> Iterator[Record]:
        """The labelled records of `split` ("val" or "test"; test is validation when there is none), for evaluation."""
        return split_records(self._records, self.settings, self.held_out_split(split))
