"""Where a speech data module's utterances come from: a TIMIT-style folder, JSONL manifests, or a corpus made here.

The generated corpora ("phones", the embedded speech-like corpus, and "spoken_digits", said by eSpeak NG
voices) are written once into the cache, named by their settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from datamodules import spoken_digits, synthetic_speech
from datamodules.speech_corpus import (
    TIMIT_FOLDING,
    Utterance,
    columns,
    is_timit_sa,
    read_manifest,
    scan_timit,
    train_test_folders,
)
from studio.codecs.speech import LabelSet
from studio.errors import StudioError

LABEL_MAP_SHORTCUTS = {"timit39": TIMIT_FOLDING}
# The corpora made here when neither a folder nor a manifest is given.
GENERATED_CORPORA = ("phones", "spoken_digits")


@dataclass(frozen=True)
class SpeechSources:
    """The data module's source settings (see `SpeechDataModule.__init__`)."""

    root: Optional[str]
    manifest: Optional[str]
    val_manifest: Optional[str]
    test_manifest: Optional[str]
    label_map: Optional[str]
    corpus: str
    synthetic: dict[str, Any]
    seed: int
    cache_dir: Path
    drop_timit_sa: bool

    def read(self) -> dict[str, Optional[list[Utterance]]]:
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
            official = train_test_folders(root)
            if official:  # TIMIT's own TRAIN/ and TEST/ folders: its test speakers stay the test split
                found["train"], found["test"] = scan_timit(official[0]), scan_timit(official[1])
            else:
                found["train"] = scan_timit(root)
        for split, path in (("val", self.val_manifest), ("test", self.test_manifest)):
            if path:
                found[split] = read_manifest(path)
        if self.drop_timit_sa:
            # TIMIT's SA1/SA2 are read by every speaker; the standard recipe leaves them out of every split.
            found = {k: [u for u in v if not is_timit_sa(u)] if v else v for k, v in found.items()}
        return found

    def _spoken_digits(self) -> Path:
        """The spoken-digits corpus's manifest, said once into the cache."""
        p = self.synthetic
        name = f"spoken-digits-v{spoken_digits.GENERATOR_VERSION}-{p['n_speakers']}x{p['utts_per_speaker']}-{self.seed}"
        root = self.cache_dir / "speech_corpora" / name
        return spoken_digits.generate(root, p["n_speakers"], p["utts_per_speaker"], self.seed)

    def _synthetic_root(self) -> Path:
        """The embedded corpus's folder, generated once into the cache."""
        p = self.synthetic
        name = f"synthetic-v{synthetic_speech.GENERATOR_VERSION}-{p['n_speakers']}x{p['utts_per_speaker']}-{p['sample_rate']}"
        return synthetic_speech.generate(self.cache_dir / "speech_corpora" / name, **p)

    def label_set(self, utterances: list[Utterance]) -> LabelSet:
        """The label set: from `label_map`, the corpus's label list, the embedded corpus, or the labels of `utterances`."""
        if self.label_map:
            path = LABEL_MAP_SHORTCUTS.get(self.label_map, Path(self.label_map).expanduser())
            if not Path(path).is_file():
                raise StudioError(
                    f"label map {self.label_map} not found: pass a folding file (`raw folded` per line), a label list, or timit39"
                )
            return LabelSet.from_folding_file(path) if columns(Path(path)) == 2 else LabelSet.from_file(path)
        listed = Path(self.root).expanduser() / synthetic_speech.LABELS_FILE if self.root else None
        if listed is not None and listed.is_file():
            return LabelSet.from_file(listed)
        if not self.root and not self.manifest and self.corpus == "phones":
            return synthetic_speech.labelset()
        return LabelSet(sorted({label for u in utterances for label in u.labels}))
