"""SpeechDataModule: TIMIT-style folders and manifests, label folding, skipping, speaker splits, the feature cache."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from datamodules import synthetic_speech
from datamodules.skipped import CorpusWarning
from datamodules.speech import SpeechDataModule
from studio.codecs import codec_from_dict
from studio.codecs.speech import IGNORE_INDEX, SpeechCodec
from studio.codecs.speech import features as speech_features
from studio.errors import StudioError
from studio.models.tagger import SequenceTagger

SMALL = {"n_speakers": 4, "utts_per_speaker": 3, "seed": 3}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic corpus in TIMIT layout (speaker folders of .wav + .phn)."""
    return synthetic_speech.generate(tmp_path_factory.mktemp("speech") / "corpus", **SMALL)


def _data(tmp_path: Path, **kwargs: object) -> SpeechDataModule:
    args = dict(cache_dir=str(tmp_path / "cache"), batch_size=4, val_fraction=0.25, test_fraction=0.25, seed=0)
    return SpeechDataModule(**{**args, **kwargs})


def _speakers(data: SpeechDataModule, split: str) -> set[str]:
    return {str(u.speaker) for u in data.utterances(split)}


def _wav(path: Path, seconds: float, sr: int = 16000) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    soundfile.write(str(path), 0.1 * np.random.default_rng(len(str(path))).standard_normal(n), sr, subtype="PCM_16")
    return n


def _phn(path: Path, rows: list[tuple[int, int, str]]) -> None:
    path.write_text("".join(f"{a} {b} {label}\n" for a, b, label in rows))


def test_timit_style_folder_gives_dims_codec_speaker_splits_and_padded_batches(corpus: Path, tmp_path: Path) -> None:
    data = _data(tmp_path, root=str(corpus))
    assert data.model_dims() == {"input_size": 120, "num_labels": 13}
    assert codec_from_dict(data.codec.to_dict()) == data.codec and isinstance(data.codec, SpeechCodec)
    train, val, test = (_speakers(data, s) for s in ("train", "val", "test"))
    assert len(train) == 2 and len(val) == 1 and len(test) == 1 and not (train & val or train & test or val & test)
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    assert batch.inputs.shape[0] == 3 and batch.inputs.shape[2] == 120
    for row, n in enumerate(batch.lengths.tolist()):
        assert (batch.frame_labels[row, n:] == IGNORE_INDEX).all() and (batch.inputs[row, n:] == 0).all()
        assert (batch.frame_labels[row, :n] > 0).all()  # the synthetic alignments cover every frame
        labels = data.labels.decode(batch.targets[row, : batch.target_lengths[row]].tolist())
        assert labels[0] == labels[-1] == "h#"
        assert all(a != b for a, b in zip(labels, labels[1:]))  # repeats merged


def test_training_batches_are_length_buckets_covering_every_utterance_once(corpus: Path, tmp_path: Path) -> None:
    data = _data(tmp_path, root=str(corpus), val_fraction=0.25, test_fraction=0.0)
    data.setup("fit")
    lengths = sorted(data.dataset("train").lengths)
    seen: list[int] = []
    for batch in data.train_dataloader():
        seen.extend(batch.lengths.tolist())
    assert sorted(seen) == lengths
    # Buckets are contiguous runs of the sorted lengths, so no batch mixes short and long utterances.
    buckets = sorted(sorted(b.lengths.tolist()) for b in data.train_dataloader())
    assert [length for bucket in buckets for length in bucket] == lengths


def test_manifest_input_infers_labels_and_takes_explicit_validation(corpus: Path, tmp_path: Path) -> None:
    rows = []
    for wav in sorted(corpus.rglob("*.wav")):
        phones = [line.split()[2] for line in wav.with_suffix(".phn").read_text().splitlines()]
        rows.append({"audio": str(wav.relative_to(corpus)), "labels": " ".join(phones), "speaker": wav.parent.name})
    (corpus / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[3:]))
    (corpus / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:3]))
    data = _data(
        tmp_path, manifest=str(corpus / "train.jsonl"), val_manifest=str(corpus / "val.jsonl"), test_fraction=0.0
    )
    used = {label for r in rows for label in r["labels"].split()}
    assert data.labels.labels[1:] == tuple(sorted(used))
    assert data.model_dims() == {"input_size": 120, "num_labels": len(used) + 1}
    assert len(data.utterances("val")) == 3 and data.utterances("test") == data.utterances("val")
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert (batch.frame_labels == IGNORE_INDEX).all()  # a manifest has no alignment
    assert (batch.target_lengths > 3).all()


def test_framewise_training_on_a_manifest_is_a_one_line_error(corpus: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"audio": str(w), "labels": "h# s iy h#", "speaker": w.parent.name}) + "\n"
            for w in sorted(corpus.rglob("*.wav"))
        )
    )
    data = _data(tmp_path, manifest=str(manifest))
    model = SequenceTagger(**data.model_dims(), loss="framewise", hidden_size=8, projection_size=8, num_layers=1)
    data.configure_for_model(dict(model.hparams))  # what `studio fit` does once the model is built
    with pytest.raises(StudioError, match="framewise training needs time-aligned labels.*loss ctc"):
        data.setup("fit")


def _timit_corpus(root: Path) -> Path:
    """Two speakers with TIMIT's own labels (closures, `ix`, the glottal stop `q`)."""
    rows = [
        (0, 1600, "h#"),
        (1600, 2400, "bcl"),
        (2400, 3200, "b"),
        (3200, 4800, "ix"),
        (4800, 5600, "q"),
        (5600, 8000, "iy"),
        (8000, 9600, "h#"),
    ]
    for speaker in ("FAKS0", "MDAB0"):
        for utt in ("SX1", "SX2", "SA1"):
            _wav(root / "DR1" / speaker / f"{utt}.WAV", 0.6)
            _phn(root / "DR1" / speaker / f"{utt}.PHN", rows)
    return root


def test_timit39_folding_maps_and_drops_labels_and_sa_sentences_are_left_out(tmp_path: Path) -> None:
    data = _data(
        tmp_path, root=str(_timit_corpus(tmp_path / "timit")), label_map="timit39", val_fraction=0.5, test_fraction=0.0
    )
    assert len(data.labels) == 40  # 39 classes + blank
    assert all(not u.audio.name.startswith("SA") for s in ("train", "val") for u in data.utterances(s))
    data.setup("fit")
    _, frame_labels, label_ids = data.dataset("train")[0]
    assert data.labels.decode(label_ids.tolist()) == ["sil", "b", "ih", "iy", "sil"]  # h# bcl merge; q dropped
    hop = data.settings.hop_length
    centre = lambda i: i * hop + data.settings.win_length / 2
    for i, label in enumerate(frame_labels.tolist()):
        if 4800 <= centre(i) < 5600:
            assert label == IGNORE_INDEX  # the dropped `q`
        elif 3200 <= centre(i) < 4800:
            assert data.labels.decode([label]) == ["ih"]


def test_timit_train_and_test_folders_one_level_down_become_the_train_and_test_splits(tmp_path: Path) -> None:
    for part in ("TRAIN", "TEST"):
        _timit_corpus(tmp_path / "TIMIT" / "TIMIT" / part)
        (tmp_path / "TIMIT" / "TIMIT" / part / "DR1" / "FAKS0").rename(
            tmp_path / "TIMIT" / "TIMIT" / part / "DR1" / f"F{part}0"
        )
    data = _data(tmp_path, root=str(tmp_path / "TIMIT"), label_map="timit39", val_fraction=0.5)
    assert _speakers(data, "test") == {"FTEST0", "MDAB0"}
    assert _speakers(data, "train") | _speakers(data, "val") == {"FTRAIN0", "MDAB0"}
    assert all("TEST" in str(u.audio) for u in data.utterances("test"))


def test_a_label_outside_the_label_set_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    root = _timit_corpus(tmp_path / "timit")
    _phn(root / "DR1" / "MDAB0" / "SX2.PHN", [(0, 4800, "h#"), (4800, 9600, "zzz")])
    with pytest.raises(StudioError, match=r"SX2.WAV: unknown label 'zzz'.*folding file"):
        _data(tmp_path, root=str(root), label_map="timit39").model_dims()


def test_utterances_too_short_for_their_labels_are_skipped_counted_and_named(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    labels = ["h#", "s", "iy", "k", "aa", "t", "h#"]
    # 0.5 s = 48 frames, 0.2 s = 18 frames, 0.06 s = 4 frames, for 7 labels.
    for speaker in ("S1", "S2", "S3"):
        for utt, seconds in (("long", 0.5), ("medium", 0.2), ("tiny", 0.06)):
            n = _wav(root / speaker / f"{utt}.wav", seconds)
            _phn(
                root / speaker / f"{utt}.phn", [(i * n // 7, (i + 1) * n // 7, label) for i, label in enumerate(labels)]
            )
    data = _data(tmp_path, root=str(root), val_fraction=0.3, test_fraction=0.0)
    with pytest.warns(CorpusWarning) as record:
        data.setup("fit")
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2  # train and validation; the test split is the validation split here
    assert re.fullmatch(
        r"skipped 2 of 6 train utterances: S\d/tiny \(4 frames are too few for 7 labels\), S\d/tiny \(.*\)", messages[1]
    )
    assert messages[0].startswith("skipped 1 of 3 val utterances: S")
    assert len(data.dataset("train")) == 4 and len(data.skipped["train"]) == 2
    # A CTC model stacking 4 frames per step needs 25 frames for 7 labels: the model's settings say so.
    model = SequenceTagger(**data.model_dims(), loss="ctc", subsample=4, hidden_size=8, projection_size=8, num_layers=1)
    data.configure_for_model(dict(model.hparams))
    with pytest.warns(CorpusWarning, match="medium \\(18 frames are too few for 7 labels\\)"):
        data.setup("fit")
    assert sorted(name.split("/")[1] for name, _ in data.skipped["train"]) == ["medium", "medium", "tiny", "tiny"]


def test_features_are_computed_once_and_the_second_epoch_reads_no_audio(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = speech_features.read_audio
    monkeypatch.setattr(speech_features, "read_audio", lambda path: reads.append(str(path)) or original(path))
    data = _data(tmp_path, root=str(corpus))
    data.setup("fit")
    assert len(reads) == 12  # every utterance once, into the cache
    for _epoch in range(2):
        frames = sum(int(b.lengths.sum()) for b in data.train_dataloader())
        assert frames == sum(data.dataset("train").lengths)
    assert len(reads) == 12
    # A new data module on the same cache (a new run) reads no audio either.
    again = _data(tmp_path, root=str(corpus))
    again.setup("fit")
    next(iter(again.train_dataloader()))
    assert len(reads) == 12


def test_construction_is_cheap_and_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    missing = _data(tmp_path, root=str(tmp_path / "nowhere"))  # nothing is read yet
    with pytest.raises(StudioError, match="nowhere does not exist"):
        missing.model_dims()
    with pytest.raises(StudioError, match="not both"):
        _data(tmp_path, root="a", manifest="b")
    with pytest.raises(StudioError, match="val_fraction=1.5"):
        _data(tmp_path, val_fraction=1.5)
    with pytest.raises(StudioError, match="label map nope.txt not found"):
        _data(tmp_path, root=str(_timit_corpus(tmp_path / "t")), label_map="nope.txt").model_dims()


def test_the_embedded_corpus_is_generated_once_into_the_cache(tmp_path: Path) -> None:
    data = _data(tmp_path, synthetic_speakers=3, synthetic_utterances=2, val_fraction=0.3, test_fraction=0.0)
    assert data.model_dims() == {"input_size": 120, "num_labels": 13}
    corpora = tmp_path / "cache" / "speech_corpora"
    folders = [p for p in corpora.iterdir() if not p.name.startswith(".")]  # its lock file beside it aside
    assert len(folders) == 1 and len(list(folders[0].rglob("*.wav"))) == 6
    assert data.labels == synthetic_speech.labelset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to skip in the embedded corpus
        data.setup("fit")
    assert isinstance(next(iter(data.train_dataloader())).inputs, torch.Tensor)


def test_batch_shape_is_the_rows_by_the_longest_utterance_and_max_frames_caps_it(corpus: Path, tmp_path: Path) -> None:
    data = _data(tmp_path, root=str(corpus), batch_size=3, val_batch_size=5)
    data.prepare_store()
    data.setup()
    longest = {split: max(data.dataset(split).lengths) for split in ("train", "val")}
    shape = data.batch_shape()
    assert (shape.rows, shape.steps) == max(
        [(3, longest["train"], "batch_size"), (5, longest["val"], "val_batch_size")], key=lambda s: s[0] * s[1]
    )[:2]
    assert shape.settings[1] == "max_frames"
    # Every batch the loaders give fits in it.
    for loader in (data.train_dataloader(), data.val_dataloader()):
        assert all(b.inputs.shape[0] * b.inputs.shape[1] <= shape.rows * shape.steps for b in loader)
    cap = sorted(data.dataset("train").lengths)[len(data.dataset("train")) // 2]
    capped = _data(tmp_path, root=str(corpus), batch_size=3, val_batch_size=5, max_frames=cap)
    capped.prepare_store()
    assert capped.batch_shape().steps <= cap
    with pytest.warns(CorpusWarning, match="max_frames"):
        capped.setup()
    assert max(capped.dataset("train").lengths) <= cap and len(capped.dataset("train")) < len(data.dataset("train"))
