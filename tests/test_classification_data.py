"""Classification data: manifests, class folders and the embedded languages, stored once, split, cut and batched."""

from __future__ import annotations

import io
import json
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.class_store import ClassStore
from datamodules.classification import ClassificationDataModule
from datamodules.imdb import imdb_folder
from datamodules.languages import LANGUAGES
from studio.codecs.classes import ClassCodec
from studio.codecs.text import TextCodec
from studio.downloads import Remote
from studio.errors import StudioError

REVIEWS = [
    ("a wonderful film, truly wonderful", "pos"),
    ("dull and boring, a waste", "neg"),
    ("wonderful acting and a fine story", "pos"),
    ("boring plot. boring actors!", "neg"),
] * 10


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _module(tmp_path: Path, **kwargs: object) -> ClassificationDataModule:
    settings = {"cache_dir": str(tmp_path / "cache"), "batch_size": 4, "num_words": 20, **kwargs}
    return ClassificationDataModule(**settings)  # type: ignore[arg-type]


def test_a_manifest_is_stored_split_and_batched(tmp_path: Path) -> None:
    manifest = _jsonl(tmp_path / "reviews.jsonl", [{"text": t, "label": lab} for t, lab in REVIEWS])
    data = _module(tmp_path, path=str(manifest), val_fraction=0.25, test_fraction=0.25, max_len=4)
    codec = data.codec
    assert codec.labels == ("neg", "pos") and codec.max_len == 4 and codec.text is not None
    store = data.store()
    counts = {split: len(store.indices(split)) for split in ("train", "val", "test")}
    assert sum(counts.values()) == len(REVIEWS) and all(counts.values())
    # Keras-style words: lower-cased, punctuation gone, 0 pads and 1 stands for unknown words.
    vocab = codec.text.tokenizer.get_vocab()
    assert vocab["<pad>"] == 0 and vocab["<unk>"] == 1 and "boring" in vocab and "boring!" not in vocab
    inputs, lengths, targets = next(iter(data.train_dataloader()))
    assert inputs.dtype == torch.long and inputs.shape[0] == 4 and int(lengths.max()) <= 4
    assert targets.dtype == torch.long and set(targets.tolist()) <= {0, 1}
    assert data.model_dims() == {
        "input_size": codec.input_size,
        "num_classes": 2,
        "input_kind": "tokens",
        "multi_label": False,
    }


def test_the_store_is_prepared_once_and_reused(tmp_path: Path) -> None:
    manifest = _jsonl(tmp_path / "reviews.jsonl", [{"text": t, "label": lab} for t, lab in REVIEWS])
    first = _module(tmp_path, path=str(manifest)).store()
    again = _module(tmp_path, path=str(manifest)).store()
    assert again.folder == first.folder
    marker = first.folder / "meta.json"
    assert marker.stat().st_mtime_ns == (again.folder / "meta.json").stat().st_mtime_ns
    manifest.write_text(manifest.read_text() + json.dumps({"text": "new", "label": "pos"}) + "\n")
    assert _module(tmp_path, path=str(manifest)).store().folder != first.folder  # changed data: a new store


@pytest.mark.parametrize("truncating, kept", [("pre", [5, 6, 7]), ("post", [1, 2, 3])])
def test_long_inputs_are_cut_keeping_the_end_or_the_start(truncating: str, kept: list[int]) -> None:
    codec = ClassCodec(("a", "b"), max_len=3, truncating=truncating, text=TextCodec.train(["x"], "word", 5))
    assert codec.cut(np.array([1, 2, 3, 4, 5, 6, 7])).tolist() == kept
    assert codec.cut(np.array([1, 2])).tolist() == [1, 2]


def test_a_long_review_is_cut_and_the_cut_is_said(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rows = [{"text": t, "label": lab} for t, lab in REVIEWS] + [{"text": "wonderful " * 100_000, "label": "pos"}]
    data = _module(tmp_path, path=str(_jsonl(tmp_path / "r.jsonl", rows)), max_len=8)
    store = data.store()
    assert store.lengths(np.arange(len(rows))).max() == 8
    assert "1 of 41 inputs are longer than max_len 8" in capsys.readouterr().out


def test_class_folders_and_aclimdb_layout(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, (text, _) in enumerate(r for r in REVIEWS if r[1] == label):
                (folder / f"{i}_7.txt").write_text(text, encoding="utf-8")
    (tmp_path / "aclImdb" / "train" / "unsup").mkdir()
    (tmp_path / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("no label", encoding="utf-8")
    store = _module(tmp_path, path=str(tmp_path / "aclImdb"), val_fraction=0.2).store()
    assert store.codec.labels == ("neg", "pos")  # unsup is not a class
    assert len(store.indices("test")) == len(REVIEWS)  # the official test folder is the test split
    assert len(store.indices("train")) + len(store.indices("val")) == len(REVIEWS)


def test_the_embedded_languages_are_balanced_and_hold_out_each_texts_end(tmp_path: Path) -> None:
    data = _module(tmp_path, num_words=5000, max_len=12)
    store = data.store()
    assert store.codec.labels == tuple(sorted(LANGUAGES))
    for split in ("train", "val", "test"):
        per_class = np.bincount(np.asarray(store.targets)[store.indices(split)], minlength=len(LANGUAGES))
        assert len(set(per_class.tolist())) == 1 and per_class[0] > 0  # as many snippets of every language
    test_names = {r.name for r in data.held_out("test")}
    train_positions = {
        int(r.name.split(":")[1]) for r in data._records() if r.split == "train" and r.name.startswith("en:")
    }
    test_positions = {int(name.split(":")[1]) for name in test_names if name.startswith("en:")}
    assert min(test_positions) > max(train_positions)  # the held-out snippets come after every training snippet


@pytest.mark.parametrize(
    "rows, needles",
    [
        ([{"text": "a", "label": ["x", "y"]}], ["multi_label"]),
        ([{"text": "a"}], ["r.jsonl:1", "label"]),
        ([{"label": "x"}], ["r.jsonl:1", "text"]),
    ],
    ids=["several-labels", "no-label", "no-text"],
)
def test_bad_manifests_are_one_line_errors(tmp_path: Path, rows: list[dict], needles: list[str]) -> None:
    good = [{"text": t, "label": lab} for t, lab in REVIEWS]
    manifest = _jsonl(tmp_path / "r.jsonl", rows + good)
    with pytest.raises(StudioError) as caught:
        _module(tmp_path, path=str(manifest)).store()
    message = str(caught.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    assert not list((tmp_path / "cache" / "classify").glob("*/meta.json"))  # nothing published half-made


def test_classes_given_by_name_must_all_have_examples_and_cover_the_data(tmp_path: Path) -> None:
    manifest = _jsonl(tmp_path / "r.jsonl", [{"text": t, "label": lab} for t, lab in REVIEWS])
    with pytest.raises(StudioError, match="class 'meh' has no training examples"):
        _module(tmp_path, path=str(manifest), labels=["neg", "pos", "meh"]).store()
    with pytest.raises(StudioError, match=r"r.jsonl:1: its train label 'pos' is not one of --data.init_args.labels"):
        _module(tmp_path, path=str(manifest), labels=["neg", "meh"]).store()
    ordered = _module(tmp_path, path=str(manifest), labels=["pos", "neg"]).codec
    assert ordered.labels == ("pos", "neg")  # the order given is the order of the classes


def test_a_test_label_training_never_saw_is_named(tmp_path: Path) -> None:
    train = _jsonl(tmp_path / "train.jsonl", [{"text": t, "label": lab} for t, lab in REVIEWS])
    test = _jsonl(tmp_path / "test.jsonl", [{"text": "fine", "label": "pos"}, {"text": "meh", "label": "neutral"}])
    with pytest.raises(StudioError, match=r"test.jsonl:2: its test label 'neutral' never occurs in the training data"):
        _module(tmp_path, path=str(train), test_path=str(test)).store()


def test_empty_texts_are_skipped_and_counted(tmp_path: Path) -> None:
    rows = [{"text": t, "label": lab} for t, lab in REVIEWS] + [{"text": "   ", "label": "pos"}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = _module(tmp_path, path=str(_jsonl(tmp_path / "r.jsonl", rows))).store()
    assert len(store.splits) == len(REVIEWS)
    assert any(
        "skipped 1 of 41 inputs" in str(w.message) and "r.jsonl:41 (empty text)" in str(w.message) for w in caught
    )


def test_text_that_is_not_utf8_names_the_file_and_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "classes" / "pos"
    folder.mkdir(parents=True)
    (folder / "a.txt").write_bytes("très bien".encode("latin-1"))
    (tmp_path / "classes" / "neg").mkdir()
    (tmp_path / "classes" / "neg" / "b.txt").write_text("bad", encoding="utf-8")
    with pytest.raises(StudioError, match=r"a.txt is not valid utf-8 .*--data.init_args.encoding latin-1"):
        _module(tmp_path, path=str(tmp_path / "classes")).store()
    store = _module(tmp_path, path=str(tmp_path / "classes"), encoding="latin-1", val_fraction=0.0).store()
    assert isinstance(store, ClassStore) and store.codec.labels == ("neg", "pos")


def test_an_empty_class_folder_is_named(tmp_path: Path) -> None:
    (tmp_path / "c" / "pos").mkdir(parents=True)
    (tmp_path / "c" / "pos" / "a.txt").write_text("good", encoding="utf-8")
    (tmp_path / "c" / "neg").mkdir()
    with pytest.raises(StudioError, match=r"class folder .*neg holds no examples"):
        _module(tmp_path, path=str(tmp_path / "c")).store()


def test_multi_label_targets_are_rows_of_zeros_and_ones(tmp_path: Path) -> None:
    rows = [{"text": "red round", "label": ["red", "round"]}, {"text": "blue", "label": ["blue"]}] * 10
    data = _module(tmp_path, path=str(_jsonl(tmp_path / "m.jsonl", rows)), multi_label=True, val_fraction=0.2)
    assert data.codec.labels == ("blue", "red", "round")
    _, _, targets = next(iter(data.train_dataloader()))
    assert targets.shape[1] == 3 and set(targets.flatten().tolist()) <= {0, 1}
    assert data.model_dims()["multi_label"] is True


def test_imdb_is_downloaded_once_checked_and_read_as_its_official_split(tmp_path: Path) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, text in [("aclImdb/train/pos/0_9.txt", "great"), ("aclImdb/train/neg/0_1.txt", "awful"),
                           ("aclImdb/test/pos/0_8.txt", "superb"), ("aclImdb/test/neg/0_2.txt", "dreadful"),
                           ("aclImdb/train/unsup/0_0.txt", "unlabelled")]:  # fmt: skip
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    source = tmp_path / "aclImdb_v1.tar.gz"
    source.write_bytes(archive.getvalue())
    import hashlib

    remote = Remote(source.as_uri(), size=source.stat().st_size, sha256=hashlib.sha256(source.read_bytes()).hexdigest())
    folder = imdb_folder(tmp_path / "cache", remote)
    assert sorted(p.name for p in folder.iterdir()) == ["test", "train"]
    source.unlink()  # a second call needs no download
    assert imdb_folder(tmp_path / "cache", remote) == folder
    source.write_bytes(archive.getvalue())
    bad = Remote(remote.url, size=remote.size, sha256="0" * 64)
    with pytest.raises(StudioError, match="SHA-256"):
        imdb_folder(tmp_path / "other", bad)
