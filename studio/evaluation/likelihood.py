"""Held-out likelihood of text or MIDI files under a language model, read statefully as in training."""

from __future__ import annotations

import glob
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from studio.codecs.midi import MidiCodec
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.generation.decoding import evaluating

TEXT_SUFFIXES = (".txt", ".text", ".md", ".rst")
MIDI_SUFFIXES = (".mid", ".midi")
# Tokens per forward pass: long files are read in pieces of this length with the state carried across.
CHUNK = 2048


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
def sequence_nll(model: nn.Module, ids: Sequence[int]) -> float:
    """Summed negative log-likelihood (nats) of ids[1:] given what precedes them, in chunks with carried state."""
    device = next(model.parameters()).device
    tokens = torch.tensor(list(ids), dtype=torch.long, device=device)
    total, state = 0.0, None
    with evaluating(model):
        for start in range(0, len(tokens) - 1, CHUNK):
            inputs = tokens[start : start + CHUNK][None]
            targets = tokens[start + 1 : start + 1 + CHUNK][None]
            inputs = inputs[:, : targets.shape[1]]
            logits, state = model(inputs, state)
            total += float(F.cross_entropy(logits[0].float(), targets[0], reduction="sum"))
    return total


def text_likelihood(model: nn.Module, codec: TextCodec, paths: Sequence[Path]) -> Likelihood:
    """NLL of each text file read as one stream; unreadable files and files too short are skipped."""
    result = Likelihood()
    for path in paths:
        try:
            # One file is one stream; evaluation files are read whole (training data goes through the store).
            ids = codec.encode(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            result.skipped.append((str(path), type(error).__name__))
            continue
        if len(ids) < 2:
            result.skipped.append((str(path), "fewer than two tokens"))
            continue
        result.nats += sequence_nll(model, ids)
        result.tokens += len(ids) - 1
        result.files.append(str(path))
    return result


def midi_likelihood(model: nn.Module, codec: MidiCodec, paths: Sequence[Path]) -> Likelihood:
    """NLL of each MIDI file's events after BOS, its EOS included; per event and per second of music."""
    result = Likelihood()
    for path in paths:
        try:
            ids = codec.encode_file(path, add_bos_eos=True)
        except StudioError as error:
            result.skipped.append((str(path), str(error).split(":")[-1].strip()[:80] or "unreadable"))
            continue
        if len(ids) < 3:
            result.skipped.append((str(path), "no notes"))
            continue
        result.nats += sequence_nll(model, ids)
        result.tokens += len(ids) - 1
        result.seconds += codec.seconds(ids)
        result.files.append(str(path))
    return result
