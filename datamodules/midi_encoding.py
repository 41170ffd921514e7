"""Encoding many MIDI files: content digests, and event ids in order from a process pool over the cores.

Workers are spawned (forking a process that holds torch threads can deadlock) and run only the
codec's own `encode_file`, so each imports `studio.codecs.midi` (a fifth of a second), not this
package (which pulls in torch). Files go to them in small chunks, a bounded number at a time, so
memory stays flat however many files there are; results come back in input order.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from array import array
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Optional

import numpy as np

from studio.codecs.midi import MidiCodec
from studio.errors import StudioError

CHUNK = 8  # files per task: large enough to hide the hand-over, small enough that a bad file costs little
SERIAL_BELOW = 256  # fewer files than this are encoded here: starting workers would cost more
Encoded = tuple[Optional[np.ndarray], str]  # the ids, or None and why the file is unusable
_TYPECODES = {1: "B", 2: "H", 4: "I", 8: "q"}  # array.array's types by item size (ids are never negative)


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


def _checked(ids: Any, path: Path, dtype: np.dtype) -> Encoded:
    # A file that parses but holds no notes is as useless for training as a corrupt one.
    if not len(ids):
        return None, f"{path} has no notes"
    return (np.frombuffer(ids, dtype=dtype) if isinstance(ids, array) else np.asarray(ids, dtype=dtype)), ""


def _one(codec: MidiCodec, path: Path, dtype: np.dtype) -> Encoded:
    try:
        return _checked(codec.encode_file(path), path, dtype)
    except StudioError as error:
        return None, str(error)


def encode_many(
    paths: Sequence[Path],
    codec: MidiCodec,
    workers: int,
    dtype: np.dtype,
    advance: Callable[[int], None] = lambda n: None,
) -> Iterator[Encoded]:
    """(ids as `dtype`, "") or (None, reason) for each path, in order; `advance(i)` after file `paths[i]`."""
    if workers <= 1 or len(paths) < SERIAL_BELOW:
        for i, path in enumerate(paths):
            yield _one(codec, path, dtype)
            advance(i)
        return
    chunks = [list(paths[i : i + CHUNK]) for i in range(0, len(paths), CHUNK)]
    # Builtins only, so a task pickles without this module: each file's ids come back as an array.array,
    # which travels as raw bytes and is read here without a copy.
    packed = partial(array, _TYPECODES[np.dtype(dtype).itemsize])
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(chunks)), mp_context=context) as pool:
        pending: deque[tuple[int, Future]] = deque()
        done = 0
        for index in range(len(chunks) + 1):
            if index < len(chunks):
                pending.append((index, pool.submit(list, map(packed, map(codec.encode_file, chunks[index])))))
            while pending and (len(pending) > 8 * workers or index == len(chunks)):
                number, future = pending.popleft()
                for result in _chunk_results(pool, codec, chunks[number], future, dtype):
                    yield result
                    advance(done)
                    done += 1


def _chunk_results(
    pool: ProcessPoolExecutor, codec: MidiCodec, chunk: list[Path], future: Future, dtype: np.dtype
) -> list[Encoded]:
    """A chunk's results; a chunk with an unreadable file is encoded again file by file, to tell which."""
    try:
        return [_checked(ids, path, dtype) for path, ids in zip(chunk, future.result())]
    except StudioError:
        retries = [pool.submit(codec.encode_file, path) for path in chunk]
        results: list[Encoded] = []
        for path, retry in zip(chunk, retries):
            try:
                results.append(_checked(retry.result(), path, dtype))
            except StudioError as error:
                results.append((None, str(error)))
        return results
