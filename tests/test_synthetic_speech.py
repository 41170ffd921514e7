"""The embedded synthetic speech corpus: layout, determinism, regeneration rules and learnability."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from datamodules import synthetic_speech
from datamodules.speech_corpus import scan_timit, split_by_speaker
from studio.codecs.speech import FeatureSettings, LabelSet, extract, frame_labels, read_audio
from studio.errors import StudioError

SMALL = {"n_speakers": 4, "utts_per_speaker": 6, "seed": 5}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    a = _files(synthetic_speech.generate(tmp_path / "a", **SMALL))
    b = _files(synthetic_speech.generate(tmp_path / "b", **SMALL))
    assert a == b and len([name for name in a if name.endswith(".wav")]) == 24
    c = _files(synthetic_speech.generate(tmp_path / "c", **{**SMALL, "seed": 6}))
    assert a.keys() == c.keys()
    assert all(a[name] != c[name] for name in a if name.endswith(".wav"))


def test_the_reader_sees_every_utterance_with_true_contiguous_alignments(tmp_path: Path) -> None:
    root = synthetic_speech.generate(tmp_path / "corpus", **SMALL)
    labels = LabelSet.from_file(root / synthetic_speech.LABELS_FILE)
    assert labels == synthetic_speech.labelset() and len(labels) == 13
    utts = scan_timit(root)
    assert len(utts) == 24 and len({u.speaker for u in utts}) == 4
    for utt in utts:
        assert utt.segments is not None
        assert utt.labels[0] == utt.labels[-1] == "h#" and len(utt.labels) >= 8
        labels.encode(utt.labels)  # every label is in the label set
        starts = np.array([s for s, _, _ in utt.segments])
        ends = np.array([e for _, e, _ in utt.segments])
        assert starts[0] == 0 and (starts[1:] == ends[:-1]).all()
        assert ((ends - starts) >= 0.04 - 1e-9).all() and ((ends - starts) <= 0.2 + 1e-9).all()
        audio, sr = read_audio(utt.audio)
        assert sr == 16000 and audio.size / sr == pytest.approx(ends[-1]) and np.abs(audio).max() > 0.05


def _vowel_pitch_hz(audio: np.ndarray, sr: int, segments: list[tuple[float, float, str]]) -> float:
    start, end, _ = next(seg for seg in segments if seg[2] in ("aa", "iy", "uw", "eh"))
    x = audio[int(start * sr) : int(end * sr)].astype(np.float64)
    corr = np.correlate(x, x, mode="full")[x.size - 1 :]
    low, high = sr // 400, sr // 60  # lags of pitches between 60 and 400 Hz
    return sr / (low + int(np.argmax(corr[low:high])))


def test_speakers_differ_in_pitch(tmp_path: Path) -> None:
    utts = scan_timit(synthetic_speech.generate(tmp_path / "corpus", **SMALL))
    pitch: dict[str, list[float]] = {}
    for utt in utts:
        audio, sr = read_audio(utt.audio)
        pitch.setdefault(str(utt.speaker), []).append(_vowel_pitch_hz(audio, sr, utt.segments or []))
    median = {speaker: float(np.median(values)) for speaker, values in pitch.items()}
    # Even-numbered speakers have the higher voices.
    assert min(median["FS000"], median["FS002"]) > 1.25 * max(median["MS001"], median["MS003"]), median


def test_generation_is_skipped_when_present_and_redone_for_new_parameters(tmp_path: Path) -> None:
    root = synthetic_speech.generate(tmp_path / "corpus", **SMALL)
    wav = root / "FS000" / "U000.wav"
    before = wav.stat().st_mtime_ns
    time.sleep(0.01)
    synthetic_speech.generate(root, **SMALL)
    assert wav.stat().st_mtime_ns == before
    synthetic_speech.generate(root, **{**SMALL, "utts_per_speaker": 2})
    assert len(scan_timit(root)) == 8
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_foreign_folder_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(StudioError, match="holds no synthetic speech corpus"):
        synthetic_speech.generate(tmp_path, **SMALL)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_default_corpus_is_quick_to_generate(tmp_path: Path) -> None:
    start = time.perf_counter()
    root = synthetic_speech.generate(tmp_path / "default")
    elapsed = time.perf_counter() - start
    assert len(list(root.rglob("*.wav"))) == 8 * 20
    assert elapsed < 15, f"default corpus took {elapsed:.1f} s"


def test_frames_are_learnable_across_speakers(tmp_path: Path) -> None:
    root = synthetic_speech.generate(tmp_path / "corpus", n_speakers=6, utts_per_speaker=6, seed=1)
    labels = synthetic_speech.labelset()
    settings = FeatureSettings(kind="mfcc", deltas=0)
    train, val = split_by_speaker(scan_timit(root), 0.34, seed=0)
    assert not {u.speaker for u in train} & {u.speaker for u in val}

    def frames(utts: list) -> tuple[np.ndarray, np.ndarray]:
        feats = [extract(*read_audio(u.audio), settings) for u in utts]
        ids = [frame_labels(u.segments, len(f), settings, labels) for u, f in zip(utts, feats)]
        return np.concatenate(feats), np.concatenate(ids)

    x_train, y_train = frames(train)
    x_val, y_val = frames(val)
    classes = np.unique(y_train)
    assert len(classes) == 12
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in classes])
    predicted = classes[np.argmin(((x_val[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)]
    accuracy = float((predicted == y_val).mean())
    majority = np.bincount(y_val).max() / y_val.size
    # Nearest class mean on unseen speakers: far above always guessing the commonest phone.
    assert majority < 0.35 and accuracy > majority + 0.4, (accuracy, majority)
