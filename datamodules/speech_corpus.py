"""Speech corpora on disk: TIMIT-style folders and JSONL manifests (read in the codec), and speaker splits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datamodules.skipped import warn_skipped
from studio.codecs.speech.corpus import Utterance, read_manifest_lines, read_timit
from studio.errors import StudioError

TIMIT_FOLDING = Path(__file__).parent / "labelsets" / "timit_61_to_39.txt"


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


def train_test_folders(root: Path) -> tuple[Path, Path] | None:
    """TRAIN/ and TEST/ folders under `root` or one level down (LDC's TIMIT/TIMIT/, Kaggle's data/), any case."""
    for folder in (root, *sorted(p for p in root.iterdir() if p.is_dir())):
        parts = {p.name.lower(): p for p in folder.iterdir() if p.is_dir()}
        if "train" in parts and "test" in parts:
            return parts["train"], parts["test"]
    return None


def is_timit_sa(utt: Utterance) -> bool:
    """Whether `utt` is TIMIT's SA1 or SA2 (read by every speaker)."""
    stem = utt.audio.name.split(".")[0].upper()
    return stem in ("SA1", "SA2")


def columns(path: Path) -> int:
    """Fields on the first non-comment line of a label file (1: label list, 2: folding map)."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and not line.strip().startswith("#"):
            return len(line.split())
    return 0
