"""Text codec: a Hugging Face `tokenizers` vocabulary (characters, or byte-level BPE) as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from studio.errors import StudioError

UNK = "<unk>"


class TextCodec:
    """Maps text to token ids and back; travels inside checkpoints as its tokenizer's JSON."""

    kind: ClassVar[str] = "text"

    def __init__(self, tokenizer: Tokenizer, level: str) -> None:
        self.tokenizer = tokenizer
        self.level = level

    @classmethod
    def train(cls, texts: Iterable[str], level: str = "char", vocab_size: int = 512) -> TextCodec:
        """Build a vocabulary from the corpus: every character seen (`char`) or byte-level BPE (`bpe`)."""
        if level == "char":
            return cls(_char_tokenizer(texts), level)
        if level == "bpe":
            return cls(_bpe_tokenizer(texts, vocab_size), level)
        raise StudioError(f"unknown tokenizer level {level!r}: use 'char' or 'bpe'")

    @property
    def vocab_size(self) -> int:
        """Number of distinct token ids."""
        return self.tokenizer.get_vocab_size()

    @property
    def line_break_id(self) -> int | None:
        """Id of the line break character in a character vocabulary that has one; None otherwise (BPE merges it)."""
        return self.tokenizer.token_to_id("\n") if self.level == "char" else None

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; characters outside the vocabulary become the unknown token."""
        return self.tokenizer.encode(text).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of `ids` (the unknown token is dropped)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def unknown_characters(self, text: str) -> list[str]:
        """Characters of `text` the vocabulary cannot represent (always empty for byte-level BPE)."""
        if self.level != "char":
            return []
        vocab = self.tokenizer.get_vocab()
        return sorted({c for c in text if c not in vocab})

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` turns back into an identical codec."""
        return {"kind": self.kind, "level": self.level, "tokenizer": self.tokenizer.to_str()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextCodec:
        """Inverse of `to_dict`."""
        return cls(Tokenizer.from_str(data["tokenizer"]), data["level"])


def _char_tokenizer(texts: Iterable[str]) -> Tokenizer:
    chars: set[str] = set()
    for text in texts:
        chars.update(text)
    vocab = {UNK: 0, **{c: i + 1 for i, c in enumerate(sorted(chars))}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    # Every character, newlines included, is its own pre-token.
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    tokenizer.add_special_tokens([UNK])
    return tokenizer


def _bpe_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[UNK],
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer
