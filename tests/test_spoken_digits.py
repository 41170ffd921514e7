"""The spoken-digits corpus: digit words said by eSpeak NG voices, once, the same every time, split by voice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import soundfile

from datamodules import spoken_digits
from datamodules.speech import SpeechDataModule
from studio.errors import StudioError

needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (apt install espeak-ng; make test installs it)",
)


@needs_espeak
def test_the_corpus_is_said_once_and_the_same_every_time(tmp_path: Path) -> None:
    manifest = spoken_digits.generate(tmp_path / "a", speakers=3, per_speaker=4, seed=7)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(rows) == 12 and {row["speaker"] for row in rows} == {"S00", "S01", "S02"}
    for row in rows:
        assert 1 <= len(row["labels"]) <= 5 and set(row["labels"]) <= set(spoken_digits.DIGITS)
        audio, rate = soundfile.read(str(manifest.parent / row["audio"]))
        assert rate > 8000 and len(audio) > 0.2 * rate * len(row["labels"])  # about a fifth of a second a word at least
    stamp = manifest.stat().st_mtime_ns
    assert spoken_digits.generate(tmp_path / "a", speakers=3, per_speaker=4, seed=7) == manifest
    assert manifest.stat().st_mtime_ns == stamp  # not said again
    again = spoken_digits.generate(tmp_path / "b", speakers=3, per_speaker=4, seed=7)
    assert again.read_text() == manifest.read_text()
    assert (again.parent / rows[5]["audio"]).read_bytes() == (manifest.parent / rows[5]["audio"]).read_bytes()


@needs_espeak
def test_the_data_module_holds_out_whole_voices(tmp_path: Path) -> None:
    data = SpeechDataModule(
        corpus="spoken_digits",
        synthetic_speakers=6,
        synthetic_utterances=3,
        val_fraction=0.2,
        test_fraction=0.2,
        cache_dir=str(tmp_path),
    )
    data.prepare_store()
    speakers = {split: {u.speaker for u in data.utterances(split)} for split in ("train", "val", "test")}
    assert all(speakers.values()) and not (speakers["train"] & (speakers["val"] | speakers["test"]))
    assert list(data.labels.labels[1:]) == sorted(spoken_digits.DIGITS)  # the blank first, then the words


def test_an_unknown_corpus_and_a_missing_espeak_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(StudioError, match="corpus 'digits' is unknown: choose one of phones, spoken_digits"):
        SpeechDataModule(corpus="digits")
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    with pytest.raises(StudioError, match="espeak-ng is not installed: install eSpeak NG"):
        spoken_digits.generate(tmp_path / "c", speakers=2, per_speaker=1)
