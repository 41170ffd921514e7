"""Held-out likelihood of text or MIDI files under a language model, read statefully as in training."""

from __future__ import annotations

import glob
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.multitrack import TooManyInstruments
from studio.codecs.text import TextCodec
from studio.codecs.text_encoding import PieceEncoder
from studio.codecs.text_pieces import pieces
from studio.errors import StudioError
from studio.generation.decoding import Progress, evaluating

TEXT_SUFFIXES = (".txt", ".text", ".md", ".rst")
MIDI_SUFFIXES = (".mid", ".midi")
# Tokens per forward pass: long files are read in pieces of this length with the state carried across.
CHUNK = 2048
# Text files are read this many characters at a time and encoded and scored in pieces of about as
# many, so a file of any size is scored in bounded memory and the progress line moves steadily.
TEXT_PIECE = 64 * 1024


@dataclass
class Likelihood:
    """Negative log-likelihood summed over the tokens (or events) of the files that could be read."""

    nats: float = 0.0
    tokens: int = 0
    seconds: float = 0.0  # of music (MIDI only)
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def as_dict(self) -> dict[str, object]:
        """Per token in nats and bits, per second of music (MIDI), and what was read."""
        per_token = self.nats / self.tokens if self.tokens else math.nan
        report: dict[str, object] = {
            "nats_per_token": per_token,
            "bits_per_token": per_token / math.log(2),
            "tokens": self.tokens,
            "files": len(self.files),
            "skipped": [{"file": name, "why": why} for name, why in self.skipped],
        }
        if self.seconds:
            report["nats_per_second"] = self.nats / self.seconds
            report["seconds"] = self.seconds
        return report


def find_files(patterns: Sequence[str], suffixes: Sequence[str]) -> list[Path]:
    """Files named by paths, folders (searched recursively) or globs, with one of `suffixes`; sorted, unique."""
    found: set[Path] = set()
    for pattern in patterns:
        path = Path(pattern).expanduser()
        if path.is_dir():
            found |= {p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes}
        elif path.is_file():
            found.add(path)
        else:
            matches = [Path(m) for m in glob.glob(str(path), recursive=True)]
            if not matches:
                raise StudioError(f"--data {pattern} matches no file: pass a file, a folder or a glob")
            found |= {p for p in matches if p.is_file() and p.suffix.lower() in suffixes}
    if not found:
        raise StudioError(f"--data {' '.join(patterns)} holds no {'/'.join(suffixes)} file")
    return sorted(found)


@torch.no_grad()
def stream_nll(model: nn.Module, id_pieces: Iterable[Union[Sequence[int], np.ndarray]]) -> tuple[float, int]:
    """Summed negative log-likelihood (nats) of a stream given in pieces, and the tokens it scored.

    Every token after the first is scored given all before it, in chunks of CHUNK with the state
    carried: the tokens of a piece that do not fill a chunk wait for the next piece, so the chunks are
    those of the whole stream however it was cut.
    """
    device = next(model.parameters()).device
    total, scored, state = 0.0, 0, None
    held = torch.zeros(0, dtype=torch.long, device=device)
    with evaluating(model):

        def score(tokens: torch.Tensor) -> None:
            nonlocal total, scored, state
            logits, state = model(tokens[:-1][None], state)
            total += float(F.cross_entropy(logits[0].float(), tokens[1:], reduction="sum"))
            scored += len(tokens) - 1

        for ids in id_pieces:
            held = torch.cat([held, torch.as_tensor(np.asarray(ids, dtype=np.int64), device=device)])
            while len(held) > CHUNK:  # a chunk of CHUNK targets, and the token they follow
                score(held[: CHUNK + 1])
                held = held[CHUNK:]
        if len(held) > 1:
            score(held)
    return total, scored


def sequence_nll(model: nn.Module, ids: Sequence[int]) -> float:
    """Summed negative log-likelihood (nats) of ids[1:] given what precedes them."""
    return stream_nll(model, [ids])[0]


def _sizes(paths: Sequence[Path]) -> list[int]:
    sizes = []
    for path in paths:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)
    return sizes


class _Bytes:
    """Bytes read of all the files, reported to `progress(fraction, bytes read)`."""

    def __init__(self, paths: Sequence[Path], progress: Optional[Progress]) -> None:
        self.sizes = _sizes(paths)
        self.total = max(1, sum(self.sizes))
        self.done = 0
        self.progress = progress

    def advance(self, read: int) -> None:
        self.done += read
        if self.progress is not None:
            self.progress(min(1.0, self.done / self.total), self.done)


def _text_blocks(path: Path, read: _Bytes) -> Iterator[str]:
    """The file's text (line endings made `\\n`, as `read_text` does) a block at a time."""
    with open(path, encoding="utf-8") as handle:
        while block := handle.read(TEXT_PIECE):
            read.advance(len(block.encode("utf-8")))
            yield block


def text_likelihood(
    model: nn.Module, codec: TextCodec, paths: Sequence[Path], progress: Optional[Progress] = None
) -> Likelihood:
    """NLL of each text file read as one stream; unreadable files and files too short are skipped.

    A file is read, encoded and scored a piece at a time (cut where encoding apart equals encoding
    whole), so memory does not grow with its size. `progress(fraction, bytes read)` follows it.
    """
    result = Likelihood()
    read = _Bytes(paths, progress)
    encode = PieceEncoder(codec, np.dtype(np.int64))
    for path in paths:
        try:
            nats, scored = stream_nll(model, encode(pieces(_text_blocks(path, read), TEXT_PIECE)))
        except (OSError, UnicodeDecodeError) as error:
            result.skipped.append((str(path), type(error).__name__))
            continue
        if scored < 1:
            result.skipped.append((str(path), "fewer than two tokens"))
            continue
        result.nats += nats
        result.tokens += scored
        result.files.append(str(path))
    return result


def midi_likelihood(
    model: nn.Module, codec: MidiCodec, paths: Sequence[Path], progress: Optional[Progress] = None
) -> Likelihood:
    """NLL of each MIDI file's events after BOS, its EOS included; per event and per second of music."""
    result = Likelihood()
    read = _Bytes(paths, progress)
    for path, size in zip(paths, read.sizes):
        try:
            ids = codec.encode_file(path, add_bos_eos=True)
        except TooManyInstruments as error:
            result.skipped.append(
                (str(path), f"{error.count} instruments, more than the model's max_tracks={error.max_tracks}")
            )
            continue
        except StudioError as error:
            result.skipped.append((str(path), str(error).split(":")[-1].strip()[:80] or "unreadable"))
            continue
        finally:
            read.advance(size)
        if len(ids) < 3:
            result.skipped.append((str(path), "no notes"))
            continue
        result.nats += sequence_nll(model, ids)
        result.tokens += len(ids) - 1
        result.seconds += codec.seconds(ids)
        result.files.append(str(path))
    return result
