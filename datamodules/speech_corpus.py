"""Speech corpora on disk: TIMIT-style folders and JSONL manifests (read in the codec), speaker splits, a feature cache."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from datamodules.skipped import warn_skipped
from studio.codecs.speech import features as speech_features
from studio.codecs.speech.corpus import Utterance, read_manifest_lines, read_timit
from studio.codecs.speech.features import FeatureSettings
from studio.errors import StudioError
from studio.io import atomic_write_bytes, cache_root

TIMIT_FOLDING = Path(__file__).parent / "labelsets" / "timit_61_to_39.txt"
# Bump when the feature code changes in a way that makes old cached features wrong.
CACHE_VERSION = 1


def scan_timit(root: str | Path) -> list[Utterance]:
    """Utterances of a TIMIT-style folder (audio + `.phn` alignments; speaker = parent folder), bad ones skipped."""
    read = read_timit(root)
    warn_skipped(read.skipped, read.total, "utterances")
    return read.utterances


def read_manifest(path: str | Path) -> list[Utterance]:
    """Utterances of a JSONL manifest (`{"audio", "labels", "speaker"?}` per line), bad lines skipped."""
    read = read_manifest_lines(path)
    warn_skipped(read.skipped, read.total, f"lines of {Path(path).name}")
    return read.utterances


def split_by_speaker(
    utterances: Sequence[Utterance], val_fraction: float, seed: int
) -> tuple[list[Utterance], list[Utterance]]:
    """Train/validation split that keeps each named speaker on one side; unnamed ones split per utterance."""
    if not 0 <= val_fraction < 1:
        raise StudioError(f"val_fraction={val_fraction} must be in [0, 1)")
    groups: dict[object, list[int]] = {}
    for i, utt in enumerate(utterances):
        groups.setdefault(("speaker", utt.speaker) if utt.speaker else ("utterance", i), []).append(i)
    keys = list(groups)
    if val_fraction == 0 or len(keys) < 2:
        return list(utterances), []
    target = val_fraction * len(utterances)
    val: set[int] = set()
    for g in np.random.default_rng(seed).permutation(len(keys)):
        members = groups[keys[g]]
        # Stop before the training side would be empty.
        if len(val) >= target or len(val) + len(members) >= len(utterances):
            break
        val.update(members)
    train = [u for i, u in enumerate(utterances) if i not in val]
    return train, [u for i, u in enumerate(utterances) if i in val]


class FeatureCache:
    """Features per audio file, computed once and kept as `.npy` files keyed by the file and the settings."""

    def __init__(self, settings: FeatureSettings, folder: str | Path | None = None) -> None:
        self.settings = settings
        self.folder = Path(folder) if folder is not None else cache_root() / "speech_features"
        self.hits = 0
        self.misses = 0

    def key(self, audio: str | Path) -> str:
        """Hash of the audio file's path, size and mtime and of the feature settings."""
        audio = Path(audio)
        try:
            stat = audio.stat()
        except OSError:
            raise StudioError(f"audio file {audio} not found; check the corpus path or rebuild the manifest") from None
        payload = {
            "audio": str(audio.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "settings": self.settings.to_dict(),
            "version": CACHE_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]

    def path_for(self, audio: str | Path) -> Path:
        """Where the features of `audio` are (or will be) cached."""
        return self.folder / f"{self.key(audio)}.npy"

    def get(self, audio: str | Path) -> np.ndarray:
        """Features [frames, num_features] of `audio`, from the cache when present."""
        target = self.path_for(audio)
        if target.is_file():
            try:
                feats = np.load(target, allow_pickle=False)
                self.hits += 1
                return feats
            except (OSError, ValueError, EOFError):
                warnings.warn(f"rebuilding a damaged cache entry {target} (features of {audio})", stacklevel=2)
        samples, sr = speech_features.read_audio(audio)
        feats = speech_features.extract(samples, sr, self.settings)
        buffer = io.BytesIO()
        np.save(buffer, feats, allow_pickle=False)
        atomic_write_bytes(target, buffer.getvalue())
        self.misses += 1
        return feats

    __call__ = get

    def frames(self, audio: str | Path) -> int:
        """How many feature frames `audio` has (read from the cache without loading it; a damaged entry is rebuilt)."""
        try:
            return int(np.load(self.path_for(audio), mmap_mode="r", allow_pickle=False).shape[0])
        except (OSError, ValueError, EOFError):
            return int(self.get(audio).shape[0])

    def prefetch(self, audios: Iterable[str | Path], workers: int = 0) -> int:
        """Compute the features of every uncached file (in `workers` threads); returns how many were computed."""
        todo = sorted({Path(a) for a in audios if not self.path_for(a).is_file()})
        if workers > 1 and len(todo) > 1:
            # numpy/scipy release the GIL in FFTs and matrix products, so threads overlap well enough.
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(self.get, todo))
        else:
            for audio in todo:
                self.get(audio)
        return len(todo)
