"""The token store: a corpus's ids prepared once into the cache (nanoGPT's `train.bin`), then memory-mapped.

`<cache>/text/<key>/` holds `ids.bin` (the ids, uint8/16/32 by vocabulary size) and `meta.json` (format,
dtype, token count, split point, the codec as plain data, the source's digest). The key is the corpus's
digest and the codec settings, so a changed corpus or setting gets a store of its own.

Preparation reads the corpus three times in blocks of a few MB and never holds it whole: once for
its digest (the key; a store already there is used as it is), once for the vocabulary, once to encode
it. Each pass hashes what it read, so a file written meanwhile is caught. The store is written into a
temporary folder beside its place and renamed into it, so an interrupted preparation leaves nothing a
later run would trust; a lock file makes other processes (DDP ranks) wait for it and then map it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.corpus_reader import BLOCK_BYTES, CorpusSource, read_pieces, source_digest
from datamodules.progress_line import ProgressLine
from datamodules.store_entry import StoreUnusable, prepared_entry, read_meta
from studio.codecs.text import TextCodec
from studio.codecs.text_encoding import BPE_PIECE, CharacterSet, bpe_sample, encode_pieces, store_dtype
from studio.errors import StudioError
from studio.io import check_free_space, disk_error

# Version of the layout below; a store of another version is rebuilt (with a notice).
FORMAT = 1
IDS, META = "ids.bin", "meta.json"
LEVELS = ("char", "bpe")


@dataclass(frozen=True)
class TokenStore:
    """A published store: its folder, its meta.json, its codec and its ids (a read-only memory map).

    `built`: whether this process prepared it (False: it was in the cache already).
    """

    folder: Path
    meta: dict[str, Any]
    codec: TextCodec
    ids: np.ndarray
    built: bool = False

    def split(self, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Views of the training ids and the validation ids (the corpus's tail); nothing is read yet."""
        point = split_point(len(self.ids), val_fraction)
        return self.ids[:point], self.ids[point:]


def split_point(tokens: int, val_fraction: float) -> int:
    """Where validation starts: the last `val_fraction` of the tokens (at least 2)."""
    return tokens - max(int(tokens * val_fraction), 2)


def store_key(digest: str, level: str, bpe_vocab_size: int, encoding: str) -> str:
    """The store's folder name: the corpus's digest under the settings that change its ids."""
    settings = f"{level}:{bpe_vocab_size if level == 'bpe' else ''}:{encoding.lower()}"
    return hashlib.sha256(f"{digest}:{settings}".encode()).hexdigest()[:24]


def open_store(folder: Path) -> TokenStore:
    """Map a published store; StoreUnusable when it is of another format or damaged."""
    meta = read_meta(folder, META, FORMAT)
    try:
        dtype = np.dtype(meta["dtype"])
        tokens = int(meta["tokens"])
        if dtype not in (np.uint8, np.uint16, np.uint32) or tokens < 1:
            raise ValueError("dtype or token count out of range")
        if (folder / IDS).stat().st_size != tokens * dtype.itemsize:
            raise ValueError(f"{IDS} does not hold {tokens} ids")
        codec = TextCodec.from_dict(meta["codec"])
        ids = np.memmap(folder / IDS, dtype=dtype, mode="r", shape=(tokens,))
    except Exception as error:  # a truncated or foreign entry: missing keys, wrong sizes, a broken codec
        raise StoreUnusable(f"damaged ({type(error).__name__}: {str(error)[:80]})") from None
    return TokenStore(folder, meta, codec, ids)


def token_store(
    source: CorpusSource, level: str, bpe_vocab_size: int, cache: Path, val_fraction: float = 0.1
) -> TokenStore:
    """The store of `source` under these settings in `cache`/text/, prepared first if it is missing or unusable."""
    if level not in LEVELS:
        raise StudioError(f"unknown tokenizer level {level!r}: use 'char' or 'bpe'")
    started = time.monotonic()
    total = source.size()
    progress = ProgressLine(f"hashing {source.name}", total, started)
    digest = source_digest(source, progress.advance)
    progress.close()
    folder = cache / "text" / store_key(digest, level, bpe_vocab_size, source.encoding)

    def prepare(tmp: Path) -> None:
        _prepare(tmp, source, level, bpe_vocab_size, digest, val_fraction, started)

    store, built = prepared_entry(folder, open_store, prepare, "token store")
    return replace(store, built=built)


def _prepare(
    tmp: Path,
    source: CorpusSource,
    level: str,
    bpe_vocab_size: int,
    digest: str,
    val_fraction: float,
    started: float,
) -> None:
    """Build the store's files in the temporary folder `tmp` (published by `prepared_entry`)."""
    codec, characters = _vocabulary(source, level, bpe_vocab_size, digest, started)
    dtype = store_dtype(codec.vocab_size)
    check_free_space(tmp, characters * dtype.itemsize, f"the token store of {source.name}")
    tokens = _write_ids(tmp / IDS, source, codec, dtype, digest, started)
    meta = {
        "format": FORMAT,
        "dtype": dtype.name,
        "tokens": tokens,
        "val_fraction": val_fraction,
        "split": split_point(tokens, val_fraction),
        "codec": codec.to_dict(),
        "source": {"name": source.name, "digest": digest, "encoding": source.encoding, "characters": characters},
        "settings": {"level": level, "bpe_vocab_size": bpe_vocab_size},
    }
    (tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")


def _vocabulary(
    source: CorpusSource, level: str, bpe_vocab_size: int, digest: str, started: float
) -> tuple[TextCodec, int]:
    """The codec trained on the corpus (char: every character seen; BPE: a spread sample) and its character count."""
    characters = CharacterSet()
    progress = ProgressLine(f"reading the vocabulary of {source.name}", source.size(), started)
    if level == "char":
        for piece in read_pieces(source, digest, BLOCK_BYTES, progress.advance):
            characters.add(piece)
        codec = None if characters.blank else TextCodec.train([characters.text()], "char")
    else:
        sample = bpe_sample(read_pieces(source, digest, BPE_PIECE, progress.advance), source.size(), characters)
        codec = TextCodec.train(sample, "bpe", bpe_vocab_size)
        for _ in sample:  # a trainer that stopped early: read the rest, for the count and the digest
            pass
    progress.close()
    if codec is None or characters.blank:
        raise StudioError(f"corpus {source.name} is empty: give it some text, or choose another --data.init_args.path")
    return codec, characters.characters


def _write_ids(path: Path, source: CorpusSource, codec: TextCodec, dtype: np.dtype, digest: str, started: float) -> int:
    """Encode the corpus piece by piece, appending to `path`; the number of ids written."""
    progress = ProgressLine(f"encoding {source.name}", source.size(), started)
    size = BLOCK_BYTES if codec.level == "char" else BPE_PIECE
    tokens = 0
    try:
        with open(path, "wb") as handle:
            for ids in encode_pieces(codec, read_pieces(source, digest, size, progress.advance), dtype):
                handle.write(ids.tobytes())
                tokens += len(ids)
    except OSError as error:
        raise disk_error(f"the token store of {source.name}", error) from None
    progress.close()
    return tokens
