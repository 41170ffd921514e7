"""What a speech codec learns from the training split: global CMVN statistics and a label n-gram.

Both are read from the feature store one utterance at a time (bounded memory: one feature vector of
sums, and the n-gram's counts), only over the training split's entries, and both travel inside the
codec, so every checkpoint carries what inference needs. The CMVN statistics are written once into
the cache beside the store's key (`<cache>/speech_cmvn/`), so later runs on the same store and
training split read them instead of summing again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datamodules.speech_store import FeatureStore
from studio.codecs.speech.ngram import LabelNgram
from studio.codecs.speech.normalise import GlobalCMVN, Moments
from studio.errors import StudioError
from studio.io import disk_error


def global_cmvn(store: FeatureStore, entries: Sequence[int], cache: Path) -> GlobalCMVN:
    """Mean and standard deviation per feature over the frames of `entries`, summed once and cached."""
    ordered = sorted(int(e) for e in entries)
    key = hashlib.sha256(f"{store.folder.name}\t{ordered}".encode()).hexdigest()[:24]
    path = cache / "speech_cmvn" / f"{key}.json"
    if path.is_file():
        try:
            return GlobalCMVN.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, StudioError):
            pass  # damaged or half-written by an older version: sum again
    moments = Moments()
    for entry in ordered:
        start, end = store.offsets[entry, 0], store.offsets[entry + 1, 0]
        moments.add(np.asarray(store.features[start:end]))
    stats = moments.result()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(stats.to_dict()), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as error:
        raise disk_error("the global CMVN statistics", error) from None
    return stats


def label_ngram(store: FeatureStore, entries: Sequence[int], order: int, k: float, num_labels: int) -> LabelNgram:
    """A label n-gram of `order` counted over the label sequences of `entries` (what CTC is trained to emit)."""
    return LabelNgram.counted((store.labels_of(int(e)).tolist() for e in entries), order, num_labels, k)
