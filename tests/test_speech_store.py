"""The speech feature store: prepared once, reused, rebuilt when damaged or stale, and the same batches as extraction."""

from __future__ import annotations

import json
import os
import pickle
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import datamodules.speech_store as speech_store
import studio.io as studio_io
from datamodules import synthetic_speech
from datamodules.speech import SpeechDataModule
from datamodules.speech_batches import collate, length_buckets
from datamodules.speech_store import FEATURES, FORMAT, META, StoreSettings, feature_store
from studio.codecs.speech import extract, frame_labels, read_audio
from studio.codecs.speech import features as speech_features
from studio.codecs.speech.ctc import collapse
from studio.errors import StudioError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic corpus in TIMIT layout: 4 speakers x 3 utterances."""
    return synthetic_speech.generate(
        tmp_path_factory.mktemp("speech") / "corpus", n_speakers=4, utts_per_speaker=3, seed=3
    )


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every audio file the store opens."""
    seen: list[str] = []
    original = speech_features.read_audio
    monkeypatch.setattr(speech_features, "read_audio", lambda path: seen.append(str(path)) or original(path))
    return seen


def _data(root: Path, cache: Path, **kwargs: object) -> SpeechDataModule:
    args = dict(root=str(root), cache_dir=str(cache), batch_size=4, val_fraction=0.25, test_fraction=0.25, seed=0)
    return SpeechDataModule(**{**args, **kwargs})


def _published(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "speech").iterdir() if not p.name.startswith("."))


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in (cache / "speech").iterdir() if p.name.endswith(".tmp")]


def _batches(data: SpeechDataModule, split: str) -> list:
    loader = data.val_dataloader() if split == "val" else data.test_dataloader()
    return list(loader)


def _assert_same(batches: list, expected: list, atol: float = 0.0) -> None:
    assert len(batches) == len(expected)
    for got, want in zip(batches, expected):
        assert (
            torch.allclose(got.inputs, want.inputs, rtol=0, atol=atol) if atol else torch.equal(got.inputs, want.inputs)
        )
        for name in ("lengths", "frame_labels", "targets", "target_lengths"):
            assert torch.equal(getattr(got, name), getattr(want, name)), name


def test_batches_are_what_extraction_from_the_audio_gives(corpus: Path, tmp_path: Path) -> None:
    """The store changes where features live, not what a batch holds: each one rebuilt from the audio matches."""
    data = _data(corpus, tmp_path / "cache")
    data.setup("fit")
    for split in ("val", "test"):
        items = []
        for utt in data.utterances(split):
            features = extract(*read_audio(utt.audio), data.settings)
            ids = collapse(data.labels.encode(utt.labels))
            per_frame = frame_labels(utt.segments or [], len(features), data.settings, data.labels)
            items.append((torch.from_numpy(features), torch.from_numpy(per_frame), torch.tensor(ids)))
        buckets = length_buckets([len(f) for f, _, _ in items], 4, data.seed)
        _assert_same(_batches(data, split), [collate([items[i] for i in bucket]) for bucket in buckets])
    # float16 halves the store; batches stay float32 and within float16's rounding of the same values.
    half = _data(corpus, tmp_path / "cache", feature_dtype="float16")
    half.setup("fit")
    assert half.store().features.dtype == np.float16 and half.store().folder != data.store().folder
    _assert_same(_batches(half, "val"), _batches(data, "val"), atol=4e-3)


def test_the_second_run_maps_the_store_and_reads_no_audio(corpus: Path, tmp_path: Path, reads: list[str]) -> None:
    first = _data(corpus, tmp_path / "cache")
    first.setup("fit")
    assert len(reads) == 12  # every utterance once, whichever split it is in
    stamp = (first.store().folder / FEATURES).stat().st_mtime_ns
    again = _data(corpus, tmp_path / "cache", val_fraction=0.5, seed=7)  # other splits: the same store
    again.setup("fit")
    assert len(reads) == 12 and again.store().folder == first.store().folder
    assert (again.store().folder / FEATURES).stat().st_mtime_ns == stamp
    assert isinstance(again.store().features, np.memmap)
    assert sum(int(b.lengths.sum()) for b in again.train_dataloader()) == sum(again.dataset("train").lengths)
    assert len(reads) == 12 and len(_published(tmp_path / "cache")) == 1


def test_a_changed_audio_file_gets_a_store_of_its_own(corpus: Path, tmp_path: Path, reads: list[str]) -> None:
    copy = tmp_path / "corpus"
    synthetic_speech.generate(copy, n_speakers=4, utts_per_speaker=3, seed=3)
    first = _data(copy, tmp_path / "cache")
    first.setup("fit")
    wav = sorted(copy.rglob("*.wav"))[0]
    os.utime(wav, ns=(1, 1))  # as an edited file would look
    second = _data(copy, tmp_path / "cache")
    second.setup("fit")
    assert second.store().folder != first.store().folder and len(reads) == 24


def test_a_damaged_store_is_rebuilt_with_a_notice(corpus: Path, tmp_path: Path) -> None:
    data = _data(corpus, tmp_path / "cache")
    data.setup("fit")
    expected = _batches(data, "val")
    features = data.store().folder / FEATURES
    features.write_bytes(features.read_bytes()[:1000])  # what a disk that filled up, or a foreign tool, may leave
    with pytest.warns(UserWarning, match="rebuilding a damaged cache entry .*features.bin") as notices:
        rebuilt = _data(corpus, tmp_path / "cache")
        rebuilt.setup("fit")
    assert len(notices) == 1 and "\n" not in str(notices[0].message)
    _assert_same(_batches(rebuilt, "val"), expected)
    assert _leftovers(tmp_path / "cache") == []


def test_a_store_of_an_older_format_is_rebuilt_with_a_notice(corpus: Path, tmp_path: Path) -> None:
    data = _data(corpus, tmp_path / "cache")
    folder = data.store().folder
    meta = json.loads((folder / META).read_text())
    (folder / META).write_text(json.dumps({**meta, "format": FORMAT - 1}))
    with pytest.warns(UserWarning, match=f"rebuilding the speech feature store .*format {FORMAT - 1}"):
        assert _data(corpus, tmp_path / "cache").store().meta["format"] == FORMAT
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt once: no notice the next time
        _data(corpus, tmp_path / "cache").store()


def test_an_interrupted_preparation_publishes_nothing(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = speech_store._features_in_order

    def interrupted(*args):
        for index, features in enumerate(real(*args)):
            if index == 5:
                raise KeyboardInterrupt  # Ctrl-C half way through
            yield features

    monkeypatch.setattr(speech_store, "_features_in_order", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _data(corpus, tmp_path / "cache").store()
    assert _published(tmp_path / "cache") == [] and _leftovers(tmp_path / "cache") == []
    monkeypatch.setattr(speech_store, "_features_in_order", real)
    store = _data(corpus, tmp_path / "cache").store()
    store.folder.with_name(f".{store.folder.name}.999999.tmp").mkdir()  # what a SIGKILL leaves is never trusted
    (store.folder / META).unlink()
    with pytest.warns(UserWarning, match="damaged"):  # the rebuild sweeps it
        _data(corpus, tmp_path / "cache").store()
    assert _leftovers(tmp_path / "cache") == []


def test_processes_preparing_at_once_share_one_preparation(corpus: Path, tmp_path: Path, reads: list[str]) -> None:
    """As DDP ranks do: one prepares under the lock, the others wait and map the same files."""
    data = _data(corpus, tmp_path / "cache")
    every = [u for split in ("train", "val") for u in data.utterances(split)] + data.utterances("test")
    settings = StoreSettings(data.settings, data.labels)
    folders: list[Path] = []
    threads = [
        threading.Thread(target=lambda: folders.append(feature_store(every, settings, tmp_path / "cache").folder))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(folders) == 3 and len(set(folders)) == 1 and len(reads) == 12


def test_a_dataset_pickles_as_a_folder_not_as_its_features(corpus: Path, tmp_path: Path) -> None:
    """Loader workers and spawned ranks get the store's path and map it themselves."""
    data = _data(corpus, tmp_path / "cache")
    dataset = data.dataset("train")
    copied = pickle.loads(pickle.dumps(dataset))
    assert len(pickle.dumps(dataset)) < 4096 < dataset.store.features.nbytes
    assert isinstance(copied.store.features, np.memmap)
    assert all(torch.equal(a, b) for a, b in zip(copied[0], dataset[0]))


def test_a_bad_feature_dtype_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="feature_dtype='int8' is not supported: use float32 or float16"):
        SpeechDataModule(cache_dir=str(tmp_path), feature_dtype="int8")


def test_too_little_disk_space_is_refused_early_and_publishes_nothing(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[str]
) -> None:
    monkeypatch.setattr(studio_io.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    with pytest.raises(StudioError, match=r"speech feature store needs about \d+ MB .* free disk space") as error:
        _data(corpus, tmp_path / "cache").store()
    assert "\n" not in str(error.value)
    # Refused after the first utterance; the threads computing ahead (two per worker) may have read a few more.
    assert len(reads) <= 2 * min(4, os.cpu_count() or 1) + 1 < 12
    assert _published(tmp_path / "cache") == [] and _leftovers(tmp_path / "cache") == []
