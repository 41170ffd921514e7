"""Reading a text corpus in bounded memory: files in blocks of a few MB, their digest, and text cut at safe points.

A corpus is files read in order (or one text already in memory), joined by blank lines. Every pass
over it hashes the raw bytes, so a pass that sees other bytes than the first one did (a file being
written while it was read) is caught by comparing digests.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from studio.codecs.text_pieces import pieces
from studio.errors import StudioError

BLOCK_BYTES = 4 * 1024 * 1024
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class CorpusSource:
    """What a corpus is made of: `files` read in order in `encoding`, or one `text` in memory; `name` is for messages."""

    name: str
    files: tuple[Path, ...] = ()
    text: Optional[str] = None
    encoding: str = "utf-8"

    def size(self) -> int:
        """Bytes to read in one pass (what progress lines count)."""
        if self.text is not None:
            return len(self.text)
        return sum(path.stat().st_size for path in self.files)


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def changed_error(name: object) -> StudioError:
    """The one-line error for a corpus whose bytes changed between (or during) reads."""
    return StudioError(
        f"corpus {name} changed while it was being read: wait until whatever writes it has finished, then run again"
    )


def _invalid(path: Path, encoding: str, offset: int) -> StudioError:
    return StudioError(
        f"{path} is not valid {encoding} (byte {offset}): convert it to UTF-8, or pass --data.init_args.encoding latin-1"
    )


def _decoder(encoding: str) -> codecs.IncrementalDecoder:
    try:
        return codecs.getincrementaldecoder(encoding)("strict")
    except LookupError:
        raise StudioError(
            f"unknown text encoding {encoding!r}: pass a Python codec name such as utf-8 or latin-1"
        ) from None


def _file_blocks(
    path: Path, digest: hashlib._Hash, advance: Callable[[int], None], size: int = BLOCK_BYTES
) -> Iterator[bytes]:
    """Raw blocks of `path`, hashed as read; a file whose size or time stamp moved meanwhile is an error."""
    before = _stamp(path)
    with open(path, "rb") as handle:
        while block := handle.read(size):
            digest.update(block)
            advance(len(block))
            yield block
    if _stamp(path) != before:
        raise changed_error(path)


def _file_text(
    path: Path, encoding: str, digest: hashlib._Hash, advance: Callable[[int], None], size: int
) -> Iterator[str]:
    """Decoded text of `path` block by block (a character split across blocks is carried over)."""
    decoder = _decoder(encoding)
    offset = 0  # bytes of the file before the block being decoded
    for block in _file_blocks(path, digest, advance, size):
        pending = len(decoder.getstate()[0])  # bytes held back from the previous block
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as error:  # its positions count from the held-back bytes
            raise _invalid(path, encoding, offset - pending + error.start) from None
        offset += len(block)
        if text:
            yield text
    pending = len(decoder.getstate()[0])
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        raise _invalid(path, encoding, offset - pending + error.start) from None
    if tail:
        yield tail


def _texts(source: CorpusSource, digest: hashlib._Hash, advance: Callable[[int], None], size: int) -> Iterator[str]:
    if source.text is not None:
        data = source.text.encode("utf-8", "surrogatepass")
        digest.update(data)
        advance(len(source.text))
        yield source.text
        return
    for index, path in enumerate(source.files):
        if index:
            digest.update(SEPARATOR.encode())
            yield SEPARATOR
        yield from _file_text(path, source.encoding, digest, advance, size)


def source_digest(source: CorpusSource, advance: Callable[[int], None] = lambda n: None) -> str:
    """SHA-256 of the corpus's bytes (files undecoded, so this pass is as fast as the disk)."""
    digest = hashlib.sha256()
    if source.text is not None:
        digest.update(source.text.encode("utf-8", "surrogatepass"))
        advance(len(source.text))
    for index, path in enumerate(source.files):
        if index:
            digest.update(SEPARATOR.encode())
        for _ in _file_blocks(path, digest, advance):
            pass
    return digest.hexdigest()


def read_pieces(
    source: CorpusSource, expected: str, size: int = BLOCK_BYTES, advance: Callable[[int], None] = lambda n: None
) -> Iterator[str]:
    """The corpus's text in pieces of about `size` characters; an error at the end if its digest is not `expected`.

    Files are read in blocks of `size` bytes, so what `advance` counts keeps pace with what the consumer took.
    """
    digest = hashlib.sha256()
    yield from pieces(_texts(source, digest, advance, size), size)
    if digest.hexdigest() != expected:
        raise changed_error(source.name)
