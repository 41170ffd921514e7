"""Tagged sentences from CoNLL files: CoNLL-2000/2003 token-per-line columns and CoNLL-U treebanks, read streaming.

Every file is read line by line from its bytes (through gzip when it ends in .gz), so a decoding failure names
its line and byte, and a malformed file is a one-line error naming the file, the line and the fix.
"""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import conllu
from conllu.exceptions import ParseException

from studio.errors import StudioError

CONLLU_FIELDS = ("upos", "xpos", "deprel")


@dataclass(frozen=True)
class Sentence:
    """One sentence: its words, one label per word, and where it starts (`file:line`)."""

    words: tuple[str, ...]
    labels: tuple[str, ...]
    source: str


def read_tagged(path: Path, **kwargs: Any) -> Iterator[Sentence]:
    """Sentences of a `.conllu` file (via `read_conllu`) or of any other column file (via `read_columns`); .gz too."""
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".conllu"):
        return read_conllu(Path(path), **kwargs)
    return read_columns(Path(path), **kwargs)


def read_columns(
    path: Path, label_column: int = -1, word_column: int = 0, encoding: str = "utf-8"
) -> Iterator[Sentence]:
    """Sentences of a CoNLL-2000/2003 file: a token per line in whitespace-separated columns, blank lines between."""
    path = Path(path)
    _check_encoding(encoding)
    # The columns a line must have for both indices to exist (a negative index counts from the end).
    needed = max(c + 1 if c >= 0 else -c for c in (label_column, word_column))
    words: list[str] = []
    labels: list[str] = []
    start, width = 0, 0
    for number, line in _lines(path, encoding):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":  # a blank line or a document boundary ends the sentence
            if words:
                yield Sentence(tuple(words), tuple(labels), f"{path.name}:{start}")
                words, labels = [], []
            continue
        if not words:
            start, width = number, len(fields)
            if width < needed:
                raise StudioError(
                    f"{path}:{number}: {width} column(s), too few for word column {word_column} and label column "
                    f"{label_column}: choose columns the file has, or fix the line"
                )
        elif len(fields) != width:
            raise StudioError(
                f"{path}:{number}: ragged line: {len(fields)} columns where the sentence starting at line {start} "
                f"has {width}: give every token of a sentence the same columns, and end sentences with a blank line"
            )
        words.append(fields[word_column])
        labels.append(fields[label_column])
    if words:
        yield Sentence(tuple(words), tuple(labels), f"{path.name}:{start}")


def read_conllu(path: Path, field: str = "upos", encoding: str = "utf-8") -> Iterator[Sentence]:
    """Sentences of a CoNLL-U treebank: FORM as words, `field` (upos, xpos or deprel) as labels."""
    path = Path(path)
    if field not in CONLLU_FIELDS:
        raise StudioError(f"unknown CoNLL-U label field {field!r}: choose one of {', '.join(CONLLU_FIELDS)}")
    _check_encoding(encoding)
    lines = _Blocks(_lines(path, encoding))
    sentences = conllu.parse_incr(lines)  # type: ignore[arg-type]  # it only iterates lines
    while True:
        try:
            tokens = next(sentences)
        except StopIteration:
            return
        except ParseException as error:
            number = lines.bad_line()
            raise StudioError(
                f"{path}:{number}: malformed CoNLL-U ({' '.join(str(error).split())}): fix the line "
                "(10 tab-separated columns: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC)"
            ) from None
        # Multi-word token ranges (1-2) and empty nodes (8.1) carry tuple ids: the words are the plain ids.
        kept = [token for token in tokens if isinstance(token.get("id"), int)]
        if kept:
            words = tuple(str(token.get("form")) for token in kept)
            labels = tuple(str(token.get(field) or "_") for token in kept)
            yield Sentence(words, labels, f"{path.name}:{lines.start}")


class _Blocks:
    """Lines for conllu, remembering the current sentence's lines: conllu reports no line numbers itself."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self.lines = lines
        self.block: list[tuple[int, str]] = []
        self.start = 0
        self.ended = True

    def read(self, size: int = -1) -> str:
        """Never called: conllu only checks that a `read` exists before it iterates."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[str]:
        for number, line in self.lines:
            if not line.strip():
                self.ended = True
            else:
                if self.ended:
                    self.block, self.start, self.ended = [], number, False
                self.block.append((number, line))
            yield line

    def bad_line(self) -> int:
        """The first line of the current sentence that conllu cannot parse on its own (else its first line)."""
        for number, line in self.block:
            try:
                conllu.parse(line)
            except ParseException:
                return number
        return self.start


def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise StudioError(
            f"unknown text encoding {encoding!r}: pass a Python codec name such as utf-8 or latin-1"
        ) from None


def _lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line, decoded one at a time so that an error can name its line and byte."""
    offset = 0
    try:
        with _open_bytes(path) as source:
            for number, raw in enumerate(source, 1):
                try:
                    line = raw.decode(encoding)
                except UnicodeDecodeError as error:
                    raise StudioError(
                        f"{path}:{number}: not valid {encoding} (byte {offset + error.start}): convert it to UTF-8, "
                        "or pass --data.init_args.encoding latin-1"
                    ) from None
                offset += len(raw)
                yield number, line
    except FileNotFoundError:
        raise StudioError(f"{path} does not exist: check the path, or pass an existing file") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise StudioError(
            f"{path} is not a valid .gz file ({' '.join(str(error).split())}): decompress it yourself, "
            "or download it again"
        ) from None
    except OSError as error:
        raise StudioError(
            f"cannot read {path} ({error.strerror or error}): check the path and its permissions"
        ) from None


def _open_bytes(path: Path) -> Union[gzip.GzipFile, io.BufferedReader]:
    # gzip.open in binary mode: lines are decoded one at a time above, so a bad byte names its line.
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")
