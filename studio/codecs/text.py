"""Text codec: a Hugging Face `tokenizers` vocabulary (characters, byte-level BPE, or words) as plain data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from studio.errors import StudioError

UNK = "<unk>"
PAD = "<pad>"
LEVELS = ("char", "bpe", "word")
# Keras' Tokenizer: lower-cased, these characters removed, split on whitespace.
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


class TextCodec:
    """Maps text to token ids and back; travels inside checkpoints as its tokenizer's JSON."""

    kind: ClassVar[str] = "text"

    def __init__(self, tokenizer: Tokenizer, level: str) -> None:
        self.tokenizer = tokenizer
        self.level = level

    @classmethod
    def train(cls, texts: Iterable[str], level: str = "char", vocab_size: int = 512) -> TextCodec:
        """Build a vocabulary from the corpus: every character seen (`char`), byte-level BPE (`bpe`), or the
        `vocab_size` - 2 commonest words (`word`, as Keras' Tokenizer: lower-cased, punctuation removed, with
        id 0 for padding and 1 for words outside the vocabulary)."""
        if level not in TRAINERS:
            raise StudioError(f"unknown tokenizer level {level!r}: use one of {', '.join(LEVELS)}")
        return cls(TRAINERS[level](texts, vocab_size), level)

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
        """Characters of `text` the vocabulary cannot represent (always empty for byte-level BPE and words)."""
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


def _char_tokenizer(texts: Iterable[str], vocab_size: int = 0) -> Tokenizer:
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
    smallest = len(pre_tokenizers.ByteLevel.alphabet()) + 1  # every byte, and the unknown token
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or not smallest <= vocab_size <= 2**32:
        raise StudioError(
            f"a byte-level BPE vocabulary of {vocab_size!r} tokens cannot be: it holds {smallest} (every byte and "
            f"the unknown token) to {2**32:,}; set --data.init_args.bpe_vocab_size (text) or num_words "
            "(classification), e.g. 512"
        )
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


def _word_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    if vocab_size < 3:
        raise StudioError(f"a word vocabulary of {vocab_size} holds no word beside padding and unknown: use >= 3")
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK))
    removed = "".join("\\" + c if c in "\\]^-[" else c for c in KERAS_FILTERS)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace(Regex(f"[{removed}]"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=[PAD, UNK], show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


TRAINERS = {"char": _char_tokenizer, "bpe": _bpe_tokenizer, "word": _word_tokenizer}
