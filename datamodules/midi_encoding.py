"""Encoding many MIDI files: content digests, and event ids in order from a process pool over the cores.

On Linux the workers are forked, as DataLoader workers are: they start at once and share the
parent's loaded modules instead of importing them again (a spawned worker re-imports the command
that started it, torch included: seconds and hundreds of MB each). They run no torch code, so the
parent's torch threads are no hazard. Files go to them in small chunks, a bounded number at a time,
so memory stays flat however many files there are; results come back in input order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Optional, Union

import numpy as np

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.errors import StudioError

# The codecs a MIDI collection is encoded with: one piano performance, or several instruments.
EventCodec = Union[MidiCodec, MultitrackCodec]

CHUNK = 16  # files per task: large enough to hide the hand-over, small enough to keep the workers even
SERIAL_BELOW = 64  # fewer files than this are encoded here: a pool would not pay for itself
Encoded = tuple[Optional[np.ndarray], str]  # the ids, or None and why the file is unusable


def default_workers() -> int:
    """The cores this process may use (at most 32): the default number of encoding processes."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 32))


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes (32 hex digits): what a file is known by in the MIDI store."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:32]


def encode_one(codec: EventCodec, path: Path, dtype: np.dtype) -> Encoded:
    """A file's ids as `dtype`, or None and why it cannot be used (unreadable, or no notes)."""
    try:
        ids = codec.encode_file(path)  # a file over the reader's size cap is refused before it is read
    except StudioError as error:
        return None, str(error)
    # A file that parses but holds no notes is as useless for training as a corrupt one.
    return (np.asarray(ids, dtype=dtype), "") if ids else (None, f"{path} has no notes")


def _encode_chunk(codec: EventCodec, paths: list[Path], dtype: np.dtype) -> list[Encoded]:
    return [encode_one(codec, path, dtype) for path in paths]


def encode_many(
    paths: Sequence[Path],
    codec: EventCodec,
    workers: int,
    dtype: np.dtype,
    advance: Callable[[int], None] = lambda n: None,
) -> Iterator[Encoded]:
    """`encode_one` of each path, in order, over `workers` processes; `advance(i)` after file `paths[i]`."""
    if workers <= 1 or len(paths) < SERIAL_BELOW:
        for i, path in enumerate(paths):
            yield encode_one(codec, path, dtype)
            advance(i)
        return
    chunks = [list(paths[i : i + CHUNK]) for i in range(0, len(paths), CHUNK)]
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context) as pool:
        pending: deque[Future] = deque()
        done = 0
        for index in range(len(chunks) + 1):
            if index < len(chunks):
                pending.append(pool.submit(_encode_chunk, codec, chunks[index], dtype))
            while pending and (len(pending) > 4 * workers or index == len(chunks)):
                for result in pending.popleft().result():
                    yield result
                    advance(done)
                    done += 1
