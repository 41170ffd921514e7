"""A tiny generated speech corpus and its data module, shared by the speech data tests."""

from __future__ import annotations

from pathlib import Path

from datamodules import synthetic_speech
from datamodules.speech import SpeechDataModule


def tiny_corpus(folder: Path) -> Path:
    """Four speakers of three utterances each, written under `folder`."""
    return synthetic_speech.generate(folder / "corpus", n_speakers=4, utts_per_speaker=3, seed=3)


def tiny_data(corpus: Path, cache: Path, **kwargs: object) -> SpeechDataModule:
    """The speech data module on `corpus`: batches of 4, a quarter each for validation and test."""
    args = dict(root=str(corpus), cache_dir=str(cache), batch_size=4, val_fraction=0.25, test_fraction=0.25)
    return SpeechDataModule(**{**args, **kwargs})  # type: ignore[arg-type]
