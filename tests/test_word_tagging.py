"""Word tagging: the codec, the tagger (padding never changes a tag), its span counts, and the data module."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.mixed_languages import mixed_sentences
from datamodules.word_tagging import WordTaggingDataModule
from studio.codecs.bio import SpanScore, is_bio
from studio.codecs.word_tags import WordTagCodec
from studio.errors import StudioError
from studio.models import WordTagger
from studio.models.span_counts import SpanCounts

CHUNKS = """Confidence NN B-NP
in IN B-PP
the DT B-NP
pound NN I-NP
is VBZ B-VP
widely RB I-VP
expected VBN I-VP
. . O

He PRP B-NP
reckons VBZ B-VP
the DT B-NP
current JJ I-NP
account NN I-NP
deficit NN I-NP
. . O

"""


def _codec() -> WordTagCodec:
    words = Counter(["The", "the", "cat", "sat", "on", "the", "mat", "."])
    return WordTagCodec.build(words, ["O", "B-X", "I-X"], num_words=5)


def test_the_codec_keeps_the_commonest_words_lower_cased_and_every_character() -> None:
    codec = _codec()
    assert codec.words == ("<pad>", "<unk>", "the", ".", "cat")  # 'the' three times, then ties by spelling
    word_ids, char_ids = codec.encode(["The", "dog"])
    assert word_ids.tolist() == [2, 1]  # 'dog' is unknown, 'The' is 'the'
    assert char_ids.shape == (2, codec.max_word_len) and char_ids[0, 0] == codec.chars.index("T")
    assert codec.split("Mr. Smith's cat, 3.5 kg!") == ["Mr", ".", "Smith's", "cat", ",", "3.5", "kg", "!"]
    assert WordTagCodec.from_dict(codec.to_dict()) == codec
    with pytest.raises(StudioError, match="tag 'B-Y' is not one the tagger knows"):
        codec.label_ids(["O", "B-Y"])


@pytest.mark.parametrize("char_filters", [0, 8])
def test_a_sentence_gets_the_same_tags_alone_or_padded_in_a_batch(char_filters: int) -> None:
    torch.manual_seed(0)
    model = WordTagger(num_words=30, num_chars=20, labels=["O", "B-X", "I-X"], embedding_dim=8, char_dim=4,
                       char_filters=char_filters, hidden_size=8, num_layers=2).eval()  # fmt: skip
    words, chars = torch.randint(2, 30, (2, 12)), torch.randint(1, 20, (2, 12, 6))
    chars[:, :, 4:] = 0
    alone = model(words[:1, :5], chars[:1, :5], torch.tensor([5]))
    padded = model(words, chars, torch.tensor([5, 12]))[:1, :5]
    torch.testing.assert_close(alone, padded, atol=1e-6, rtol=1e-5)


def test_span_counts_agree_with_the_span_score() -> None:
    labels = ["O", "B-A", "I-A", "B-B", "I-B"]
    rng = np.random.default_rng(3)
    truth = torch.tensor(rng.integers(0, 5, (6, 9)))
    guess = torch.tensor(rng.integers(0, 5, (6, 9)))
    lengths = torch.tensor([9, 7, 3, 9, 1, 5])
    for row, n in enumerate(lengths.tolist()):
        truth[row, n:] = -100
    counts = SpanCounts(labels)
    counts.update(torch.tensor(0.5), guess, truth, lengths)
    reference = SpanScore()
    for row, n in enumerate(lengths.tolist()):
        reference.add([labels[t] for t in truth[row, :n].tolist()], [labels[g] for g in guess[row, :n].tolist()])
    summary = counts.summary()
    assert float(summary["span_f1"]) == pytest.approx(reference.f1, abs=1e-6)
    assert float(summary["acc"]) == pytest.approx(reference.token_accuracy)
    parts = SpanCounts(["NOUN", "VERB"])
    parts.update(torch.tensor(0.1), torch.tensor([[0, 1]]), torch.tensor([[0, 0]]), torch.tensor([2]))
    assert "span_f1" not in parts.summary() and float(parts.summary()["acc"]) == 0.5  # parts of speech: no spans


def test_column_files_train_with_their_chunk_tags(tmp_path: Path) -> None:
    train = tmp_path / "train.txt"
    train.write_text(CHUNKS * 5, encoding="utf-8")
    test = tmp_path / "test.txt"
    test.write_text(CHUNKS, encoding="utf-8")
    data = WordTaggingDataModule(
        path=str(train), test_path=str(test), cache_dir=str(tmp_path / "c"), batch_size=4, val_fraction=0.2
    )
    codec = data.codec
    assert codec.labels == ("B-NP", "B-PP", "B-VP", "I-NP", "I-VP", "O") and codec.spans_scored
    store = data.store()
    assert len(store.indices("test")) == 2 and len(store.indices("train")) + len(store.indices("val")) == 10
    words, chars, lengths, labels = next(iter(data.train_dataloader()))
    assert words.shape == labels.shape and chars.shape[:2] == words.shape
    assert (labels[torch.arange(words.shape[1])[None, :] >= lengths[:, None]] == -100).all()
    pos = WordTaggingDataModule(path=str(train), label_column=1, cache_dir=str(tmp_path / "c"), val_fraction=0.2)
    assert "NN" in pos.codec.labels and not pos.codec.spans_scored  # the part-of-speech column instead


def test_a_test_tag_training_never_saw_is_named(tmp_path: Path) -> None:
    train = tmp_path / "train.txt"
    train.write_text(CHUNKS * 3, encoding="utf-8")
    test = tmp_path / "test.txt"
    test.write_text("Shares NNS B-XP\n", encoding="utf-8")
    data = WordTaggingDataModule(path=str(train), test_path=str(test), cache_dir=str(tmp_path / "c"))
    with pytest.raises(StudioError, match=r"test.txt:1: its test tag 'B-XP' never occurs in the training data"):
        data.store()


def test_a_ragged_line_is_a_one_line_error(tmp_path: Path) -> None:
    train = tmp_path / "train.txt"
    train.write_text("Confidence NN B-NP\nin IN\n", encoding="utf-8")
    with pytest.raises(StudioError) as caught:
        WordTaggingDataModule(path=str(train), cache_dir=str(tmp_path / "c")).store()
    assert "train.txt" in str(caught.value) and "2" in str(caught.value) and "\n" not in str(caught.value)


def test_the_embedded_mixed_languages_are_bio_tagged_and_hold_out_unseen_passages() -> None:
    sentences = list(mixed_sentences(0, {"train": 300, "val": 50, "test": 50}))
    assert [s for _, s in sentences].count("test") == 50
    assert all(is_bio(sentence.labels) and len(sentence.labels) == len(sentence.words) for sentence, _ in sentences)
    tagged = [label for sentence, _ in sentences for label in sentence.labels]
    assert 0.05 < 1 - tagged.count("O") / len(tagged) < 0.4  # foreign passages are there, and a minority
    assert {label[2:] for label in tagged if label != "O"} == {"DE", "EN", "FR", "IT", "LA", "NL"}
    train_text = " ".join(" ".join(s.words) for s, split in sentences if split == "train")
    test_runs = [" ".join(s.words[:6]) for s, split in sentences if split == "test"]
    assert sum(run in train_text for run in test_runs) <= 2  # held-out text, not training text again


def test_named_corpora_are_downloaded_once_checked_and_unpacked(tmp_path: Path) -> None:
    import gzip
    import hashlib

    from datamodules.tagged_corpora import tagged_files
    from studio.downloads import Remote

    served = tmp_path / "served"
    served.mkdir()
    (served / "train.txt.gz").write_bytes(gzip.compress(CHUNKS.encode()))
    (served / "test.txt.gz").write_bytes(gzip.compress(CHUNKS.encode()))
    md5 = {name: hashlib.md5((served / name).read_bytes()).hexdigest() for name in ("train.txt.gz", "test.txt.gz")}
    table = {
        "chunks": [
            (split, Remote((served / name).as_uri(), md5=md5[name]), True)
            for split, name in (("train", "train.txt.gz"), ("test", "test.txt.gz"))
        ]
    }
    files = tagged_files("chunks", tmp_path / "cache", table)
    assert [(f.name, split) for f, split in files] == [("train.txt", "train"), ("test.txt", "test")]
    assert files[0][0].read_text() == CHUNKS
    for name in ("train.txt.gz", "test.txt.gz"):
        (served / name).unlink()  # a second call downloads nothing
    assert tagged_files("chunks", tmp_path / "cache", table) == files
    bad = {"chunks": [("train", Remote((tmp_path / "cache" / "x.gz").as_uri(), md5="0" * 32), True)]}
    with pytest.raises(StudioError):
        tagged_files("chunks", tmp_path / "other", bad)
    with pytest.raises(StudioError, match="unknown tagging corpus 'nope'"):
        tagged_files("nope", tmp_path / "cache")
