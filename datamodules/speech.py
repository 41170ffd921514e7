"""SpeechDataModule: a TIMIT-style folder, JSONL manifests, or the embedded synthetic corpus, as padded batches of features.

Loading is lazy: `__init__` only checks arguments; the corpus is scanned when the codec or the model
sizes are first asked for, and every utterance's features and labels are computed once into a packed
feature store in the cache (`prepare_store`, which `studio fit` calls in every process before the
Trainer exists; see datamodules/speech_store.py). Later epochs and runs map that store and read no
audio; resident memory does not grow with the corpus, and DDP ranks wait on the store's lock and map
the same files.

Labels outside the label set stop the run with a one-line error naming the label and the fix (they
are not skipped: a silently shrunken label set would make results incomparable). Utterances too short
for their CTC label sequence, or with no label left after folding, are skipped and named in a warning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader

from datamodules import spoken_digits, synthetic_speech
from datamodules.base import PreparedStore, StudioDataModule, folder_size
from datamodules.speech_augment import SpecAugment, check_speed_factors, speed_copies
from datamodules.speech_batches import BucketedBatches, UtteranceDataset, collate
from datamodules.speech_corpus import (
    TIMIT_FOLDING,
    Utterance,
    read_manifest,
    scan_timit,
    split_by_speaker,
    warn_skipped,
)
from datamodules.speech_store import FeatureStore, StoreSettings, check_dtype, feature_store, utterance_key
from studio.codecs.speech import FeatureSettings, LabelSet, SpeechCodec
from studio.codecs.speech.ctc import ctc_frames_needed
from studio.errors import StudioError
from studio.io import cache_root

LABEL_MAP_SHORTCUTS = {"timit39": TIMIT_FOLDING}
# The corpora made here when neither a folder nor a manifest is given.
GENERATED_CORPORA = ("phones", "spoken_digits")
SPLITS = ("train", "val", "test")


class SpeechDataModule(StudioDataModule):
    """Speech tagging data: features, frame labels and label sequences from the feature store, split by speaker."""

    def __init__(
        self,
        root: Optional[str] = None,
        manifest: Optional[str] = None,
        val_manifest: Optional[str] = None,
        test_manifest: Optional[str] = None,
        label_map: Optional[str] = None,
        sample_rate: int = 16000,
        features: str = "logmel",
        n_mels: int = 40,
        n_mfcc: int = 13,
        window_ms: float = 25.0,
        hop_ms: float = 10.0,
        deltas: int = 2,
        cmvn: bool = True,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        merge_repeats: bool = True,
        drop_timit_sa: bool = True,
        batch_size: int = 16,
        val_batch_size: Optional[int] = None,
        num_workers: int = 0,
        sort_by_length: bool = True,
        seed: int = 0,
        synthetic_speakers: int = 12,
        synthetic_utterances: int = 20,
        corpus: str = "phones",
        cache_dir: Optional[str] = None,
        feature_dtype: str = "float32",
        freq_masks: int = 0,
        freq_width: int = 8,
        time_masks: int = 0,
        time_width: int = 20,
        speed_perturb: Optional[list[float]] = None,
    ) -> None:
        """`root` (TIMIT-style) or `manifest` (JSONL); neither: a generated `corpus`. `label_map`: a folding or label file, or "timit39".

        `corpus` "phones" is the embedded speech-like corpus (phones with their times); "spoken_digits" is
        digit sequences said by eSpeak NG voices (words, no times: for CTC; needs espeak-ng). Either has
        `synthetic_speakers` speakers of `synthetic_utterances` utterances each.

        `feature_dtype` float16 halves the store on disk and in the page cache; batches are float32 either way.

        SpecAugment on the training split only (off by default): `freq_masks` masks of up to `freq_width`
        mel bands and `time_masks` masks of up to `time_width` frames (at most a fifth of the utterance)
        per utterance, drawn anew each epoch from `seed`; see datamodules/speech_augment.py.
        `speed_perturb` (e.g. [0.9, 1.1]) adds to the training split a copy of each of its utterances
        at each speed (resampled audio, written once into the cache; their features go into the store).
        """
        super().__init__()
        if root and manifest:
            raise StudioError(
                "pass either --data.init_args.root (a TIMIT-style folder) or --data.init_args.manifest (JSONL), not both"
            )
        if batch_size < 1 or (val_batch_size is not None and val_batch_size < 1) or num_workers < 0:
            raise StudioError("batch_size and val_batch_size must be positive and num_workers must be >= 0")
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= value < 1:
                raise StudioError(f"{name}={value} must be in [0, 1), e.g. --data.init_args.{name} 0.1")
        self.settings = FeatureSettings(sample_rate, features, n_mels, n_mfcc, window_ms, hop_ms, deltas, cmvn)
        self.root, self.manifest, self.val_manifest, self.test_manifest = root, manifest, val_manifest, test_manifest
        self.label_map = label_map
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.merge_repeats, self.drop_timit_sa = merge_repeats, drop_timit_sa
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.sort_by_length = num_workers, sort_by_length
        self.synthetic = {
            "n_speakers": synthetic_speakers,
            "utts_per_speaker": synthetic_utterances,
            "sample_rate": sample_rate,
        }
        if corpus not in GENERATED_CORPORA:
            raise StudioError(
                f"--data.init_args.corpus {corpus!r} is unknown: choose one of {', '.join(GENERATED_CORPORA)}"
            )
        self.corpus = corpus
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        check_dtype(feature_dtype)
        self.feature_dtype = feature_dtype
        self.spec_augment = SpecAugment(freq_masks, freq_width, time_masks, time_width)
        self.speed_perturb = check_speed_factors(speed_perturb or ())
        self._speed_copies: Optional[list[Utterance]] = None
        self._store: Optional[FeatureStore] = None
        self._labels: Optional[LabelSet] = None
        self._utterances: Optional[dict[str, list[Utterance]]] = None
        self._datasets: dict[str, UtteranceDataset] = {}
        self._model_settings: dict[str, Any] = {}
        self.skipped: dict[str, list[tuple[str, str]]] = {}

    # -- corpus, label set and splits --------------------------------------------------------
    def _load(self) -> None:
        if self._utterances is not None:
            return
        found = self._read_sources()
        everything = [u for utts in found.values() if utts for u in utts]
        labels = self._label_set(everything)
        for utt in everything:  # fail now, not mid-epoch, on a label the set cannot encode
            try:
                labels.encode(utt.labels)
            except StudioError as error:
                raise StudioError(f"{utt.audio}: {error}") from None
        self._labels = labels
        self._utterances = self._split(found)

    def _read_sources(self) -> dict[str, Optional[list[Utterance]]]:
        """Utterances per split as the sources give them (None: to be split off the training ones)."""
        found: dict[str, Optional[list[Utterance]]] = {"train": None, "val": None, "test": None}
        if self.manifest:
            found["train"] = read_manifest(self.manifest)
        elif not self.root and self.corpus == "spoken_digits":
            found["train"] = read_manifest(self._spoken_digits())
        else:
            root = Path(self.root).expanduser() if self.root else self._synthetic_root()
            if not root.is_dir():
                raise StudioError(
                    f"speech corpus folder {root} does not exist; pass the folder holding the .wav and .phn files as --data.init_args.root"
                )
            official = _train_test_folders(root)
            if official:  # TIMIT's own TRAIN/ and TEST/ folders: its test speakers stay the test split
                found["train"], found["test"] = scan_timit(official[0]), scan_timit(official[1])
            else:
                found["train"] = scan_timit(root)
        for split, path in (("val", self.val_manifest), ("test", self.test_manifest)):
            if path:
                found[split] = read_manifest(path)
        if self.drop_timit_sa:
            # TIMIT's SA1/SA2 are read by every speaker; the standard recipe leaves them out of every split.
            found = {k: [u for u in v if not _is_timit_sa(u)] if v else v for k, v in found.items()}
        return found

    def _spoken_digits(self) -> Path:
        p = self.synthetic
        name = f"spoken-digits-v{spoken_digits.GENERATOR_VERSION}-{p['n_speakers']}x{p['utts_per_speaker']}-{self.seed}"
        root = self.cache_dir / "speech_corpora" / name
        return spoken_digits.generate(root, p["n_speakers"], p["utts_per_speaker"], self.seed)

    def _synthetic_root(self) -> Path:
        p = self.synthetic
        name = f"synthetic-v{synthetic_speech.GENERATOR_VERSION}-{p['n_speakers']}x{p['utts_per_speaker']}-{p['sample_rate']}"
        return synthetic_speech.generate(self.cache_dir / "speech_corpora" / name, **p)

    def _label_set(self, utterances: list[Utterance]) -> LabelSet:
        if self.label_map:
            path = LABEL_MAP_SHORTCUTS.get(self.label_map, Path(self.label_map).expanduser())
            if not Path(path).is_file():
                raise StudioError(
                    f"label map {self.label_map} not found: pass a folding file (`raw folded` per line), a label list, or timit39"
                )
            return LabelSet.from_folding_file(path) if _columns(Path(path)) == 2 else LabelSet.from_file(path)
        listed = Path(self.root).expanduser() / synthetic_speech.LABELS_FILE if self.root else None
        if listed is not None and listed.is_file():
            return LabelSet.from_file(listed)
        if not self.root and not self.manifest and self.corpus == "phones":
            return synthetic_speech.labelset()
        return LabelSet(sorted({label for u in utterances for label in u.labels}))

    def _split(self, found: dict[str, Optional[list[Utterance]]]) -> dict[str, list[Utterance]]:
        train = found["train"] or []
        test = found["test"]
        if test is None:
            train, test = (
                split_by_speaker(train, self.test_fraction, self.seed + 1) if self.test_fraction else (train, [])
            )
        val = found["val"]
        if val is None:
            train, val = split_by_speaker(train, self.val_fraction, self.seed)
        if not val:
            raise StudioError(
                "the validation split is empty: raise --data.init_args.val_fraction or pass --data.init_args.val_manifest"
            )
        # Without a test split of its own, `studio test` scores the validation split.
        return {"train": train, "val": val, "test": test or val}

    @property
    def labels(self) -> LabelSet:
        """The label set (blank at 0), read or inferred from the corpus."""
        self._load()
        assert self._labels is not None
        return self._labels

    @property
    def codec(self) -> SpeechCodec:
        """Feature settings and label set; they travel inside every checkpoint."""
        return SpeechCodec(self.settings, self.labels)

    def model_dims(self) -> dict[str, Any]:
        """Model arguments that the data decides."""
        return {"input_size": self.settings.num_features, "num_labels": len(self.labels)}

    def configure_for_model(self, settings: Mapping[str, Any]) -> None:
        """Follow the tagger's `loss` and `subsample`: CTC needs enough frames per label, framewise aligned labels."""
        wanted = {key: settings[key] for key in ("loss", "subsample") if key in settings}
        if wanted != self._model_settings:  # another model may need more frames per label: rebuild
            self._model_settings, self._datasets = wanted, {}

    def frames_needed(self, label_ids: list[int]) -> int:
        """Fewest frames an utterance with these labels needs under the model's settings (CTC unless told otherwise)."""
        if self._model_settings.get("loss", "ctc") != "ctc":
            return 1
        return ctc_frames_needed(label_ids, int(self._model_settings.get("subsample", 1)))

    def utterances(self, split: str) -> list[Utterance]:
        """The utterances of `split` ("train", "val" or "test") before any are skipped."""
        self._load()
        assert self._utterances is not None
        return self._utterances[split]

    def speed_copies(self) -> list[Utterance]:
        """The speed-perturbed copies of the training utterances (none without `speed_perturb`), written once."""
        if self._speed_copies is None:
            folder = self.cache_dir / "speech_corpora" / "speed-perturbed"
            self._speed_copies = speed_copies(self.utterances("train"), self.speed_perturb, folder)
        return self._speed_copies

    def _items(self, split: str) -> list[Utterance]:
        """The utterances whose features `split`'s data set reads: the training split's with its speed copies."""
        return self.utterances(split) + (self.speed_copies() if split == "train" else [])

    # -- features and items ------------------------------------------------------------------
    def store(self) -> FeatureStore:
        """The feature store of every split's utterances, prepared once into the cache and memory-mapped."""
        if self._store is None:
            every = [u for split in SPLITS for u in self._items(split)]
            settings = StoreSettings(self.settings, self.labels, self.merge_repeats, self.feature_dtype)
            self._store = feature_store(every, settings, self.cache_dir, workers=min(4, os.cpu_count() or 1))
        return self._store

    def prepare_store(self) -> PreparedStore:
        """Scan the corpus and prepare the feature store unless it is in the cache (other processes wait on its lock)."""
        store = self.store()
        contents = (
            f"{len(store):,} utterances, {int(store.offsets[-1, 0]):,} frames of {self.settings.num_features} features"
        )
        return PreparedStore(
            "speech feature store", store.folder, folder_size(store.folder), contents, store.built, self.cache_dir
        )

    def prepare_data(self) -> None:
        """Ready already when `studio fit` runs (see `prepare_store`); otherwise prepared here."""
        self.store()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle (spawned workers, DDP spawn) without the memory maps: each process maps the store itself."""
        return {**self.__dict__, "_store": None}

    def setup(self, stage: Optional[str] = None) -> None:
        """Build the datasets, with the model's rules (see `configure_for_model`) for skipping and alignment."""
        if self._model_settings.get("loss") == "framewise":
            unaligned = next((u for split in SPLITS for u in self.utterances(split) if u.segments is None), None)
            if unaligned is not None:
                raise StudioError(
                    f"framewise training needs time-aligned labels, but {unaligned.audio} has none (manifests carry label "
                    "sequences only): use --model.init_args.loss ctc, or a TIMIT-style folder with .phn files"
                )
        self.prepare_data()
        for split in SPLITS:
            if split == "test" and self.utterances("test") is self.utterances("val"):
                self._datasets["test"] = self._datasets["val"]
            elif split not in self._datasets:
                self._datasets[split] = self._dataset(split)

    def _dataset(self, split: str) -> UtteranceDataset:
        store = self.store()
        lengths = store.lengths
        entries, skipped = [], []
        items = self._items(split)
        for utt in items:
            entry = store.index[utterance_key(utt)]
            label_ids, n_frames = store.labels_of(entry).tolist(), int(lengths[entry])
            if not label_ids:
                skipped.append((utt.name, "no label left after folding"))
                continue
            if n_frames < self.frames_needed(label_ids):
                skipped.append((utt.name, f"{n_frames} frames are too few for {len(label_ids)} labels"))
                continue
            entries.append(entry)
        if skipped:
            warn_skipped(skipped, len(items), f"{split} utterances")
        self.skipped[split] = skipped
        if not entries:
            raise StudioError(
                f"no usable {split} utterance is left ({len(skipped)} skipped); check the warning above for why"
            )
        if split != "train":
            return UtteranceDataset(store, entries)
        blocks = 1 + self.settings.deltas
        return UtteranceDataset(store, entries, self.spec_augment, seed=self.seed, blocks=blocks)

    def dataset(self, split: str) -> UtteranceDataset:
        """The items of `split` (after `setup`)."""
        if split not in self._datasets:
            self.setup()
        return self._datasets[split]

    # -- loaders -----------------------------------------------------------------------------
    def _loader(self, split: str, batch_size: int, shuffle: bool) -> DataLoader:
        dataset = self.dataset(split)
        common: dict[str, Any] = dict(
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=collate,
            generator=torch.Generator().manual_seed(self.seed),
        )
        if self.sort_by_length or not shuffle:
            # One sample is one bucket of similar lengths: DataLoader batching is off (batch_size=None).
            return DataLoader(
                BucketedBatches(dataset, batch_size, self.seed), batch_size=None, shuffle=shuffle, **common
            )
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, **common)

    def train_dataloader(self) -> DataLoader:
        """Training batches: length buckets in shuffled order (or shuffled utterances with `sort_by_length: false`)."""
        return self._loader("train", self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches, length-bucketed, in a fixed order."""
        return self._loader("val", self.val_batch_size, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches (the validation split when the corpus has no test split)."""
        return self._loader("test", self.val_batch_size, shuffle=False)


def _train_test_folders(root: Path) -> Optional[tuple[Path, Path]]:
    """TRAIN/ and TEST/ folders under `root` or one level down (LDC's TIMIT/TIMIT/, Kaggle's data/), any case."""
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        parts = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
        if "train" in parts and "test" in parts:
            return parts["train"], parts["test"]
    return None


def _is_timit_sa(utt: Utterance) -> bool:
    stem = utt.audio.name.split(".")[0].upper()
    return stem in ("SA1", "SA2")


def _columns(path: Path) -> int:
    """Fields on the first non-comment line of a label file (1: label list, 2: folding map)."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and not line.strip().startswith("#"):
            return len(line.split())
    return 0
