"""Reading TIMIT-style folders and JSONL manifests, skipping bad utterances, and speaker splits (the feature store: test_speech_store.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from datamodules.skipped import CorpusWarning
from datamodules.speech_corpus import (
    Utterance,
    read_manifest,
    scan_timit,
    split_by_speaker,
)
from studio.errors import StudioError


def _wav(path: Path, seconds: float = 0.3, sr: int = 16000, seed: int = 0, fmt: str = "WAV") -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    soundfile.write(str(path), 0.1 * np.random.default_rng(seed).standard_normal(n), sr, format=fmt, subtype="PCM_16")
    return n


def _phn(path: Path, rows: list[tuple[int, int, str]]) -> None:
    path.write_text("".join(f"{a} {b} {label}\n" for a, b, label in rows))


def test_scan_timit_reads_alignments_speakers_and_sample_rates(tmp_path: Path) -> None:
    n = _wav(tmp_path / "DR1" / "FCJF0" / "SA1.WAV")
    _phn(tmp_path / "DR1" / "FCJF0" / "SA1.PHN", [(0, 1600, "h#"), (1600, 3200, "sh"), (3200, n, "iy")])
    m = _wav(tmp_path / "DR2" / "MABC0" / "SX7.flac", sr=8000, fmt="FLAC")
    _phn(tmp_path / "DR2" / "MABC0" / "SX7.phn", [(0, 800, "h#"), (800, m, "aa")])
    utts = scan_timit(tmp_path)
    assert [u.speaker for u in utts] == ["FCJF0", "MABC0"]
    assert utts[0].labels == ["h#", "sh", "iy"]
    assert utts[0].segments == [(0.0, 0.1, "h#"), (0.1, 0.2, "sh"), (0.2, 0.3, "iy")]
    # Sample positions are read at the file's own rate (8 kHz here).
    assert utts[1].segments == [(0.0, 0.1, "h#"), (0.1, 0.3, "aa")]
    assert utts[0].name == "FCJF0/SA1"


def test_a_converted_copy_counts_once(tmp_path: Path) -> None:
    n = _wav(tmp_path / "S1" / "SA1.WAV")
    _wav(tmp_path / "S1" / "SA1.WAV.wav")
    _phn(tmp_path / "S1" / "SA1.PHN", [(0, n, "h#")])
    utts = scan_timit(tmp_path)
    assert [u.audio.name for u in utts] == ["SA1.WAV.wav"]


def test_bad_utterances_are_skipped_counted_and_named(tmp_path: Path) -> None:
    for name in ("good1", "good2", "nophn", "pastend", "corrupt", "malformed"):
        n = _wav(tmp_path / "SPK" / f"{name}.wav")
        _phn(tmp_path / "SPK" / f"{name}.phn", [(0, n // 2, "a"), (n // 2, n, "b")])
    (tmp_path / "SPK" / "nophn.phn").unlink()
    _phn(tmp_path / "SPK" / "pastend.phn", [(0, 100, "a"), (100, 999999, "b")])
    (tmp_path / "SPK" / "corrupt.wav").write_bytes(b"not a wave file" * 20)
    (tmp_path / "SPK" / "malformed.phn").write_text("0 100 a\n100 two b\n")
    with pytest.warns(CorpusWarning) as record:
        utts = scan_timit(tmp_path)
    assert [u.audio.stem for u in utts] == ["good1", "good2"]
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith("skipped 4 of 6 utterances:")
    assert "nophn.wav (no .phn file)" in message
    assert "pastend.wav (labels run past the end of the audio)" in message
    assert "corrupt.wav (unreadable audio)" in message
    assert "malformed.wav (malformed line 2 in malformed.phn)" in message


def test_missing_root_empty_root_and_nothing_usable_raise(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="nowhere"):
        scan_timit(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("no audio here")
    with pytest.raises(StudioError, match=r"no audio files .* under"):
        scan_timit(tmp_path)
    _wav(tmp_path / "x" / "a.wav")
    with pytest.raises(StudioError, match=r"none of the 1 utterances .*a.wav \(no .phn file\)"):
        scan_timit(tmp_path)


def test_files_directly_in_the_root_have_no_speaker(tmp_path: Path) -> None:
    n = _wav(tmp_path / "a.wav")
    _phn(tmp_path / "a.phn", [(0, n, "x")])
    assert scan_timit(tmp_path)[0].speaker is None


def test_read_manifest_resolves_paths_and_skips_bad_lines(tmp_path: Path) -> None:
    _wav(tmp_path / "audio" / "one.wav")
    _wav(tmp_path / "elsewhere" / "two.wav")
    (tmp_path / "audio" / "bad.wav").write_bytes(b"garbage" * 30)
    lines = [
        json.dumps({"audio": "audio/one.wav", "labels": ["h#", "aa"], "speaker": "s1"}),
        json.dumps({"audio": str(tmp_path / "elsewhere" / "two.wav"), "labels": "iy sh"}),
        "",
        "{not json",
        json.dumps({"audio": "audio/missing.wav", "labels": ["a"]}),
        json.dumps({"audio": "audio/one.wav"}),
        json.dumps({"audio": "audio/bad.wav", "labels": ["a"]}),
    ]
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.warns(CorpusWarning, match=r"skipped 4 of 6 lines of train.jsonl") as record:
        utts = read_manifest(manifest)
    message = str(record[0].message)
    assert "line 4 (not valid JSON)" in message and "line 5 (audio audio/missing.wav not found)" in message
    assert "line 6 (" in message and "line 7 (unreadable audio)" in message
    assert [(u.audio, u.labels, u.speaker, u.segments) for u in utts] == [
        (tmp_path / "audio" / "one.wav", ["h#", "aa"], "s1", None),
        (tmp_path / "elsewhere" / "two.wav", ["iy", "sh"], None, None),
    ]
    with pytest.raises(StudioError, match="cannot read manifest"):
        read_manifest(tmp_path / "absent.jsonl")


def _utts(speakers: list[str | None]) -> list[Utterance]:
    return [Utterance(audio=Path(f"u{i}.wav"), labels=["a"], speaker=s) for i, s in enumerate(speakers)]


def test_split_by_speaker_never_shares_a_speaker() -> None:
    utts = _utts([f"s{i % 7}" for i in range(70)])
    train, val = split_by_speaker(utts, 0.2, seed=3)
    assert len(train) + len(val) == 70 and val
    assert not {u.speaker for u in train} & {u.speaker for u in val}
    assert len(val) == 20  # two whole speakers of ten utterances reach the 14-utterance target
    again = split_by_speaker(utts, 0.2, seed=3)
    assert [u.audio for u in again[1]] == [u.audio for u in val]
    seeds = {tuple(sorted({u.speaker for u in split_by_speaker(utts, 0.2, seed=s)[1]})) for s in range(6)}
    assert len(seeds) > 1


def test_split_falls_back_to_utterances_without_speakers() -> None:
    train, val = split_by_speaker(_utts([None] * 50), 0.1, seed=0)
    assert len(val) == 5 and len(train) == 45
    one_speaker = _utts(["solo"] * 10)
    assert split_by_speaker(one_speaker, 0.5, seed=0) == (one_speaker, [])
    with pytest.raises(StudioError, match="val_fraction"):
        split_by_speaker(one_speaker, 1.0, seed=0)
