"""WordTagCodec: words and their characters as ids, and tag names, for tagging the words of a text (plain data).

Words are looked up lower-cased (`lowercase`), so the word vocabulary stays small; each word's characters
keep their case, so a tagger can still see capitals, digits and suffixes, and read words it never saw.
Id 0 pads and id 1 stands for anything outside a vocabulary, in both vocabularies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from studio.codecs.bio import is_bio
from studio.errors import StudioError

PAD, UNK = "<pad>", "<unk>"
# A word, a number, or any other single character that is not a space: how raw text is split into words.
WORD = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class WordTagCodec:
    """The word and character vocabularies, the tags, and the characters read per word."""

    words: tuple[str, ...]
    chars: tuple[str, ...]
    labels: tuple[str, ...]
    lowercase: bool = True
    max_word_len: int = 16
    kind: ClassVar[str] = "word_tags"

    def __post_init__(self) -> None:
        if self.words[:2] != (PAD, UNK) or self.chars[:2] != (PAD, UNK):
            raise StudioError("the stored word-tag codec is malformed (its vocabularies must begin with <pad>, <unk>)")
        if len(self.labels) < 2:
            raise StudioError(f"{len(self.labels)} tag(s) found: a tagger needs at least 2 (check the label column)")

    @classmethod
    def build(
        cls, words: Counter, labels: Iterable[str], num_words: int, lowercase: bool = True, max_word_len: int = 16
    ) -> WordTagCodec:
        """The `num_words` - 2 commonest words (ties by spelling), every character of them, and the tags sorted."""
        keys: Counter = Counter()
        chars: Counter = Counter()
        for word, count in words.items():
            keys[word.lower() if lowercase else word] += count
            chars.update({c: count for c in word})
        kept = sorted(keys.items(), key=lambda item: (-item[1], item[0]))[: max(num_words - 2, 0)]
        return cls(
            words=(PAD, UNK, *(w for w, _ in kept)),
            chars=(PAD, UNK, *sorted(chars)),
            labels=tuple(sorted(set(labels))),
            lowercase=lowercase,
            max_word_len=max_word_len,
        )

    @property
    def spans_scored(self) -> bool:
        """Whether the tags are BIO chunks (entities, phrases) whose spans are scored, not only tokens."""
        return is_bio(self.labels) and any(label != "O" for label in self.labels)

    def split(self, text: str) -> list[str]:
        """The words of raw text: words and numbers, and each punctuation mark on its own."""
        return WORD.findall(text)

    def encode(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Word ids [T] and character ids [T, max_word_len] (a word's first characters; 0 pads)."""
        index = self._word_index()
        char_index = self._char_index()
        word_ids = np.array([index.get(w.lower() if self.lowercase else w, 1) for w in words], dtype=np.int64)
        char_ids = np.zeros((len(words), self.max_word_len), dtype=np.int64)
        for row, word in enumerate(words):
            ids = [char_index.get(c, 1) for c in word[: self.max_word_len]]
            char_ids[row, : len(ids)] = ids
        return word_ids, char_ids

    def label_ids(self, labels: Sequence[str], where: str = "") -> np.ndarray:
        """Ids of tag names; StudioError naming a tag the codec does not have."""
        index = {label: i for i, label in enumerate(self.labels)}
        try:
            return np.array([index[label] for label in labels], dtype=np.int64)
        except KeyError as missing:
            shown = ", ".join(self.labels[:15]) + (" ..." if len(self.labels) > 15 else "")
            raise StudioError(f"{where}tag {missing.args[0]!r} is not one the tagger knows ({shown})") from None

    def _word_index(self) -> dict[str, int]:
        cached = self.__dict__.get("_words_index")
        if cached is None:
            cached = {w: i for i, w in enumerate(self.words)}
            object.__setattr__(self, "_words_index", cached)
        return cached

    def _char_index(self) -> dict[str, int]:
        cached = self.__dict__.get("_chars_index")
        if cached is None:
            cached = {c: i for i, c in enumerate(self.chars)}
            object.__setattr__(self, "_chars_index", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        """Plain data that `from_dict` turns back into an identical codec."""
        return {
            "kind": self.kind,
            "words": list(self.words),
            "chars": list(self.chars),
            "labels": list(self.labels),
            "lowercase": self.lowercase,
            "max_word_len": self.max_word_len,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WordTagCodec:
        """Inverse of `to_dict`."""
        if data.get("kind") != cls.kind or not all(isinstance(data.get(k), list) for k in ("words", "chars", "labels")):
            raise StudioError("the stored word-tag codec lacks its vocabularies or tags: the checkpoint is damaged")
        return cls(
            tuple(data["words"]),
            tuple(data["chars"]),
            tuple(data["labels"]),
            bool(data.get("lowercase", True)),
            int(data.get("max_word_len", 16)),
        )
