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
from typing import Any, Optional, Union

import torch
from torch.utils.data import DataLoader

from datamodules.base import BatchShape, PreparedStore, StudioDataModule, folder_size
from datamodules.speech_augment import SpecAugment, check_speed_factors, speed_copies
from datamodules.speech_batches import BucketedBatches, UtteranceDataset, collate
from datamodules.speech_corpus import Utterance, split_by_speaker, warn_skipped
from datamodules.speech_noise import KINDS as NOISE_KINDS
from datamodules.speech_noise import NoiseMixing, noisy_copies
from datamodules.speech_sources import GENERATED_CORPORA, SpeechSources
from datamodules.speech_statistics import global_cmvn, label_ngram
from datamodules.speech_store import FeatureStore, StoreSettings, check_dtype, feature_store, utterance_key
from studio.codecs.speech import FeatureSettings, LabelSet, SpeechCodec
from studio.codecs.speech.ctc import ctc_frames_needed
from studio.codecs.speech.ngram import LabelNgram
from studio.codecs.speech.normalise import GlobalCMVN
from studio.errors import StudioError
from studio.io import cache_root

SPLITS = ("train", "val", "test")
CMVN_MODES = ("utterance", "global", "none")


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
        cmvn: Union[bool, str] = "utterance",
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
        noise_copies: int = 0,
        noise_snr: Optional[list[float]] = None,
        noise_kinds: Optional[list[str]] = None,
        lm_order: int = 0,
        lm_smoothing: float = 1.0,
        max_frames: Optional[int] = None,
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
        `cmvn`: "utterance" (true), "global" (the training frames' statistics, in the checkpoint) or "none".
        `noise_copies` noisy copies of each training utterance at an SNR in `noise_snr` ([low, high] dB; [5, 20])
        of `noise_kinds` (white, pink, babble), made once (datamodules/speech_noise.py). `lm_order` > 0 puts a
        label n-gram of the training transcripts in the checkpoint (add-k, k = `lm_smoothing`), for
        `studio tag --beam_width 8 --lm_weight 0.5`. Utterances of over `max_frames` frames are left out.
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
        self.cmvn = _cmvn_mode(cmvn)
        per_utterance = self.cmvn == "utterance"
        self.settings = FeatureSettings(sample_rate, features, n_mels, n_mfcc, window_ms, hop_ms, deltas, per_utterance)
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.merge_repeats = merge_repeats
        self.batch_size, self.val_batch_size = batch_size, val_batch_size or batch_size
        self.num_workers, self.sort_by_length = num_workers, sort_by_length
        if corpus not in GENERATED_CORPORA:
            raise StudioError(
                f"--data.init_args.corpus {corpus!r} is unknown: choose one of {', '.join(GENERATED_CORPORA)}"
            )
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root()
        synthetic = dict(n_speakers=synthetic_speakers, utts_per_speaker=synthetic_utterances, sample_rate=sample_rate)
        self.sources = SpeechSources(
            root,
            manifest,
            val_manifest,
            test_manifest,
            label_map,
            corpus,
            synthetic,
            seed,
            self.cache_dir,
            drop_timit_sa,
        )
        check_dtype(feature_dtype)
        self.feature_dtype = feature_dtype
        self.spec_augment = SpecAugment(freq_masks, freq_width, time_masks, time_width)
        self.speed_perturb = check_speed_factors(speed_perturb or ())
        self._speed_copies: Optional[list[Utterance]] = None
        snr = tuple(float(v) for v in (noise_snr if noise_snr is not None else (5.0, 20.0)))
        kinds = tuple(noise_kinds) if noise_kinds is not None else NOISE_KINDS
        self.noise = NoiseMixing(noise_copies, snr, kinds)
        self._noisy_copies: Optional[list[Utterance]] = None
        if lm_order < 0 or not lm_smoothing > 0:
            raise StudioError(f"lm_order={lm_order} must be >= 0 (0: no LM) and lm_smoothing={lm_smoothing} positive")
        if lm_order:
            LabelNgram(lm_order, 2, lm_smoothing)  # its settings checked now, not when the run is under way
        self.lm_order, self.lm_smoothing = lm_order, lm_smoothing
        if max_frames is not None and max_frames < 1:
            raise StudioError(f"--data.init_args.max_frames {max_frames} must be positive (null: no limit)")
        self.max_frames = max_frames
        self._global_cmvn: Optional[GlobalCMVN] = None
        self._lm: Optional[LabelNgram] = None
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
        found = self.sources.read()
        everything = [u for utts in found.values() if utts for u in utts]
        labels = self.sources.label_set(everything)
        for utt in everything:  # fail now, not mid-epoch, on a label the set cannot encode
            try:
                labels.encode(utt.labels)
            except StudioError as error:
                raise StudioError(f"{utt.audio}: {error}") from None
        self._labels = labels
        self._utterances = self._split(found)

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
        """Feature settings, label set, and (when asked for) global CMVN statistics and label n-gram: all in every checkpoint."""
        return SpeechCodec(self.settings, self.labels, self.global_statistics(), self.language_model())

    def global_statistics(self) -> Optional[GlobalCMVN]:
        """The training frames' mean and deviation under `cmvn: global` (None otherwise), summed once."""
        if self.cmvn == "global" and self._global_cmvn is None:
            store = self.store()
            self._global_cmvn = global_cmvn(store, self._entries(self._items("train")), self.cache_dir)
        return self._global_cmvn

    def language_model(self) -> Optional[LabelNgram]:
        """The label n-gram of the training transcripts under `lm_order` > 0 (None otherwise)."""
        if self.lm_order and self._lm is None:
            entries = self._entries(self.utterances("train"))
            self._lm = label_ngram(self.store(), entries, self.lm_order, self.lm_smoothing, len(self.labels))
        return self._lm

    def _entries(self, utterances: list[Utterance]) -> list[int]:
        index = self.store().index
        return [index[utterance_key(u)] for u in utterances]

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

    def noisy_copies(self) -> list[Utterance]:
        """The noisy copies of the training utterances (none without `noise_copies`), written once."""
        if self._noisy_copies is None:
            folder = self.cache_dir / "speech_corpora" / "noise-mixed"
            self._noisy_copies = noisy_copies(self.utterances("train"), self.noise, folder, self.seed)
        return self._noisy_copies

    def _items(self, split: str) -> list[Utterance]:
        """The utterances whose features `split`'s data set reads: the training split's with its speed and noisy copies."""
        return self.utterances(split) + (self.speed_copies() + self.noisy_copies() if split == "train" else [])

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
        self.global_statistics()  # summed now, once, beside the store
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
            if self.max_frames is not None and n_frames > self.max_frames:
                skipped.append((utt.name, f"{n_frames} frames are more than max_frames={self.max_frames}"))
                continue
            entries.append(entry)
        if skipped:
            warn_skipped(skipped, len(items), f"{split} utterances")
        self.skipped[split] = skipped
        if not entries:
            raise StudioError(
                f"no usable {split} utterance is left ({len(skipped)} skipped); check the warning above for why"
            )
        normalise = self.global_statistics()
        if split != "train":
            return UtteranceDataset(store, entries, normalise=normalise)
        blocks = 1 + self.settings.deltas
        return UtteranceDataset(store, entries, self.spec_augment, seed=self.seed, blocks=blocks, normalise=normalise)

    def batch_shape(self) -> BatchShape:
        """Rows x the longest utterance's frames (within `max_frames`), training's or validation's, the larger."""
        shapes = []
        for split, rows, name in (("train", self.batch_size, ""), ("val", self.val_batch_size, "val_")):
            lengths = self.store().lengths[self._entries(self._items(split))]
            kept = lengths[lengths <= self.max_frames] if self.max_frames is not None else lengths
            shapes.append(BatchShape(rows, max(1, int(kept.max(initial=1))), (f"{name}batch_size", "max_frames")))
        return max(shapes, key=lambda shape: shape.rows * shape.steps)

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


def _cmvn_mode(cmvn: Union[bool, str]) -> str:
    """The CMVN mode of a setting: true and false are "utterance" and "none"."""
    if isinstance(cmvn, bool):
        return "utterance" if cmvn else "none"
    if cmvn not in CMVN_MODES:
        raise StudioError(f"--data.init_args.cmvn {cmvn!r} is unknown: choose one of {', '.join(CMVN_MODES)}")
    return cmvn
