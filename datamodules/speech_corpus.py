"""Speech corpora on disk: TIMIT-style folders, JSONL manifests, speaker splits and a feature cache."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from datamodules.skipped import warn_skipped
from studio.codecs.speech import features as speech_features
from studio.codecs.speech.features import FeatureSettings
from studio.errors import StudioError
from studio.io import atomic_write_bytes, cache_root

AUDIO_SUFFIXES = (".wav", ".flac")
TIMIT_FOLDING = Path(__file__).parent / "labelsets" / "timit_61_to_39.txt"
# Bump when the feature code changes in a way that makes old cached features wrong.
CACHE_VERSION = 1


@dataclass
class Utterance:
    """One recording: its audio file, label sequence, alignment (seconds) if known, and speaker if named."""

    audio: Path
    labels: list[str]
    segments: list[tuple[float, float, str]] | None = None
    speaker: str | None = None

    @property
    def name(self) -> str:
        """A readable id: `speaker/stem` or just the stem."""
        stem = self.audio.name.split(".")[0]
        return f"{self.speaker}/{stem}" if self.speaker else stem


class _Skip(Exception):
    """Internal: this utterance is unusable, for the reason in the message."""


def _audio_info(path: Path) -> tuple[int, int]:
    """(frames, sample rate) from the header only, or _Skip."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError, ValueError, TypeError):
        raise _Skip("unreadable audio") from None
    if info.frames <= 0:
        raise _Skip("empty audio")
    return int(info.frames), int(info.samplerate)


def _utterance_key(path: Path) -> Path:
    # `SA1.WAV.wav` (a converted copy next to the NIST `SA1.WAV`) is the same utterance as `SA1.WAV`.
    name = path.name
    while Path(name).suffix.lower() in AUDIO_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    return path.with_name(name)


def _find_audio(root: Path) -> list[Path]:
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    # Prefer lowercase `.wav` (usually RIFF) over `.flac`, then over TIMIT's NIST-SPHERE `.WAV`.
    rank = {".wav": 0, ".flac": 1, ".FLAC": 1}
    best: dict[Path, Path] = {}
    for path in found:
        key = _utterance_key(path)
        if key not in best or rank.get(path.suffix, 2) < rank.get(best[key].suffix, 2):
            best[key] = path
    return sorted(best.values())


def _phn_path(audio: Path) -> Path | None:
    for base in (audio.with_suffix(""), _utterance_key(audio)):
        for suffix in (".phn", ".PHN"):
            candidate = base.with_name(base.name + suffix)
            if candidate.is_file():
                return candidate
    return None


def _read_phn(path: Path) -> list[tuple[int, int, str]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        raise _Skip("unreadable .phn file") from None
    rows = []
    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        try:
            start, end = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise _Skip(f"malformed line {n} in {path.name}") from None
        if len(fields) != 3 or start < 0 or end < start:
            raise _Skip(f"malformed line {n} in {path.name}")
        rows.append((start, end, fields[2]))
    if not rows:
        raise _Skip(f"empty {path.name}")
    return rows


def _read_timit_utterance(audio: Path, root: Path) -> Utterance:
    phn = _phn_path(audio)
    if phn is None:
        raise _Skip("no .phn file")
    rows = _read_phn(phn)
    n_samples, sr = _audio_info(audio)
    if max(end for _, end, _ in rows) > n_samples:
        raise _Skip("labels run past the end of the audio")
    segments = [(start / sr, end / sr, label) for start, end, label in rows]
    speaker = audio.parent.name if audio.parent != root else None
    return Utterance(audio=audio, labels=[label for _, _, label in rows], segments=segments, speaker=speaker)


def scan_timit(root: str | Path) -> list[Utterance]:
    """Utterances of a TIMIT-style folder (audio + `.phn` alignments; speaker = parent folder), bad ones skipped."""
    root = Path(root)
    if not root.is_dir():
        raise StudioError(
            f"speech corpus folder {root} does not exist; pass the folder holding the .wav and .phn files"
        )
    audio_files = _find_audio(root)
    if not audio_files:
        raise StudioError(
            f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}; pass the folder holding the recordings"
        )
    utterances, skipped = [], []
    for audio in audio_files:
        try:
            utterances.append(_read_timit_utterance(audio, root))
        except _Skip as why:
            skipped.append((str(audio.relative_to(root)), str(why)))
    if not utterances:
        first = f"{skipped[0][0]} ({skipped[0][1]})"
        raise StudioError(
            f"none of the {len(audio_files)} utterances under {root} is usable (e.g. {first}); fix the .phn files"
        )
    if skipped:
        warn_skipped(skipped, len(audio_files), "utterances")
    return utterances


def _parse_manifest_line(line: str, base: Path) -> Utterance:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        raise _Skip("not valid JSON") from None
    if not isinstance(row, dict) or not isinstance(row.get("audio"), str):
        raise _Skip('no "audio" path')
    labels = row.get("labels")
    if isinstance(labels, str):
        labels = labels.split()
    if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
        raise _Skip('"labels" is not a list of strings')
    if not labels:
        raise _Skip("no labels")
    audio = Path(row["audio"])
    audio = audio if audio.is_absolute() else base / audio
    if not audio.is_file():
        raise _Skip(f"audio {row['audio']} not found")
    _audio_info(audio)
    speaker = row.get("speaker")
    return Utterance(audio=audio, labels=labels, speaker=None if speaker in (None, "") else str(speaker))


def read_manifest(path: str | Path) -> list[Utterance]:
    """Utterances of a JSONL manifest (`{"audio", "labels", "speaker"?}` per line), bad lines skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(f"cannot read manifest {path} ({type(exc).__name__}); pass a UTF-8 JSONL file") from None
    utterances, skipped, total = [], [], 0
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        total += 1
        try:
            utterances.append(_parse_manifest_line(line, path.parent))
        except _Skip as why:
            skipped.append((f"line {n}", str(why)))
    if not utterances:
        detail = f" (e.g. {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise StudioError(f"manifest {path} has no usable lines{detail}; write one JSON object per line")
    if skipped:
        warn_skipped(skipped, total, f"lines of {path.name}")
    return utterances


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
