"""The text codec: round trips, unknown characters, and plain-data serialisation."""

from __future__ import annotations

import io

import pytest
import torch

from studio.codecs import codec_from_dict
from studio.codecs.text import TextCodec
from studio.errors import StudioError

TEXT = "Lady Susan wrote:\n\tMy dear Alicia, — I am quite at ease.\r\n  Ünïcode & emoji 🎻 too.\n\n"


def test_char_round_trip_is_exact() -> None:
    codec = TextCodec.train([TEXT], "char")
    ids = codec.encode(TEXT)
    assert len(ids) == len(TEXT)
    assert codec.decode(ids) == TEXT
    assert codec.vocab_size == len(set(TEXT)) + 1  # every character plus the unknown token


def test_unknown_characters_map_to_unk_and_are_reported() -> None:
    codec = TextCodec.train(["abc "], "char")
    assert codec.encode("abz") == [codec.encode("a")[0], codec.encode("b")[0], 0]
    assert codec.unknown_characters("a zebra!") == ["!", "e", "r", "z"]


def test_bpe_round_trip_is_exact_and_compresses() -> None:
    text = TEXT * 40
    codec = TextCodec.train([text], "bpe", vocab_size=300)
    ids = codec.encode(text)
    assert codec.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8")) / 2
    assert codec.unknown_characters("anything ✓") == []


def test_codec_travels_as_plain_data() -> None:
    """The dict form survives `torch.load(weights_only=True)` and rebuilds the same codec."""
    codec = TextCodec.train([TEXT], "char")
    buffer = io.BytesIO()
    torch.save({"codec": codec.to_dict()}, buffer)
    buffer.seek(0)
    restored = codec_from_dict(torch.load(buffer, weights_only=True)["codec"])
    assert restored.encode(TEXT) == codec.encode(TEXT)
    assert restored.decode(restored.encode(TEXT)) == TEXT


def test_unknown_level_is_a_clear_error() -> None:
    with pytest.raises(StudioError, match="use one of char, bpe, word"):
        TextCodec.train(["x"], "sentence")


def test_the_word_level_is_keras_tokenizer() -> None:
    codec = TextCodec.train(["The cat sat. The dog, the CAT!", "a cat the"], "word", vocab_size=5)
    vocab = codec.tokenizer.get_vocab()
    assert vocab == {"<pad>": 0, "<unk>": 1, "the": 2, "cat": 3, "a": 4}  # the num_words - 2 commonest words
    assert codec.encode("THE CAT, the dog!") == [2, 3, 2, 1]  # lower-cased, punctuation gone, 1 for the rest
    assert TextCodec.from_dict(codec.to_dict()).encode("a cat") == [4, 3]
    with pytest.raises(StudioError, match=">= 3"):
        TextCodec.train(["a"], "word", vocab_size=2)
