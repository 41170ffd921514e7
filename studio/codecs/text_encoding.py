"""Text pieces to token ids in bounded memory: characters through a numpy lookup table, byte-level BPE in batches.

`tokenizers` builds a Python-visible object per token (about 240 bytes a character), so a whole corpus
is never handed to it at once: the character level needs no tokenizers call at all, and BPE encodes a
batch of pieces of a few hundred kB at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np

from studio.codecs.text import UNK, TextCodec

CODE_POINTS = 0x110000
# BPE works on pieces of this many characters, encoded this many at a time (tokenizers runs them in parallel).
BPE_PIECE = 64 * 1024
BPE_BATCH = 4
# Byte-level BPE learns its merges from at most about this many characters, spread over the corpus.
BPE_SAMPLE = 32 * 1024 * 1024


def store_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned integer type that holds every id of a vocabulary of `vocab_size`."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"a vocabulary of {vocab_size} ids does not fit 32 bits")


def code_points(text: str) -> np.ndarray:
    """The code points of `text` as a uint32 array (one C-level conversion, no loop per character)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


class CharacterSet:
    """The characters seen so far (and whether any was not whitespace), gathered piece by piece."""

    def __init__(self) -> None:
        self.seen = np.zeros(CODE_POINTS, dtype=bool)
        self.characters = 0
        self.blank = True

    def add(self, text: str) -> None:
        """Note the characters of `text`."""
        self.seen[code_points(text)] = True
        self.characters += len(text)
        if self.blank and text and not text.isspace():
            self.blank = False

    def text(self) -> str:
        """Every character seen, once each, in code-point order (training a char codec on it gives the corpus's vocabulary)."""
        return "".join(map(chr, np.flatnonzero(self.seen).tolist()))


class CharEncoder:
    """Character-level ids through a table indexed by code point; the same ids the codec's tokenizer gives."""

    def __init__(self, codec: TextCodec, dtype: np.dtype) -> None:
        vocab = codec.tokenizer.get_vocab()
        self.unk = vocab[UNK]
        self.table = np.full(CODE_POINTS, self.unk, dtype=dtype)
        for token, index in vocab.items():
            if len(token) == 1:
                self.table[ord(token)] = index
        self.dtype = dtype

    def __call__(self, text: str) -> np.ndarray:
        """Ids of `text`."""
        if UNK not in text:
            return self.table[code_points(text)]
        # The tokenizer matches the special token's spelling as one token: keep that meaning.
        parts: list[np.ndarray] = []
        for index, part in enumerate(text.split(UNK)):
            if index:
                parts.append(np.array([self.unk], dtype=self.dtype))
            parts.append(self.table[code_points(part)])
        return np.concatenate(parts)


class PieceEncoder:
    """Ids of a stream of pieces, built once for a codec (its lookup table serves every stream after)."""

    def __init__(self, codec: TextCodec, dtype: np.dtype) -> None:
        self.codec, self.dtype = codec, dtype
        self.chars = CharEncoder(codec, dtype) if codec.level == "char" else None

    def __call__(self, pieces: Iterable[str]) -> Iterator[np.ndarray]:
        """Ids of each piece (char level) or of each batch of pieces (BPE), in order."""
        if self.chars is not None:
            for piece in pieces:
                yield self.chars(piece)
            return
        batch: list[str] = []
        for piece in pieces:
            batch.append(piece)
            if len(batch) == BPE_BATCH:
                yield _bpe_ids(self.codec, batch, self.dtype)
                batch = []
        if batch:
            yield _bpe_ids(self.codec, batch, self.dtype)


def encode_pieces(codec: TextCodec, pieces: Iterable[str], dtype: np.dtype) -> Iterator[np.ndarray]:
    """Ids of each piece (char level) or of each batch of pieces (BPE), in order."""
    return PieceEncoder(codec, dtype)(pieces)


def _bpe_ids(codec: TextCodec, batch: list[str], dtype: np.dtype) -> np.ndarray:
    encodings = codec.tokenizer.encode_batch_fast(batch)  # no character offsets: less memory, same ids
    return np.concatenate([np.asarray(encoding.ids, dtype=dtype) for encoding in encodings])


def bpe_sample(pieces: Iterable[str], total: int, characters: CharacterSet) -> Iterator[str]:
    """Every piece noted in `characters`, and an even share of them (about BPE_SAMPLE characters) passed on."""
    stride = max(1, math.ceil(total / BPE_SAMPLE))
    for index, piece in enumerate(pieces):
        characters.add(piece)
        if index % stride == 0:
            yield piece
