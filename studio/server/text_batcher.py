"""Text requests of many people, generated together: requests for one checkpoint that arrive within a few
milliseconds of each other become one generation batch.

Each request's rows keep their own prompt, length, settings and random streams (`studio.generation.rows`),
so a request gets the same text alone or batched. One worker thread generates; the web handlers only
wait on their queues, so a long generation never blocks listing, uploads or other pages. A request whose
client went away (or pressed Stop), or that ran past its time limit, leaves the batch at the next check and
keeps what it had (a request past its limit then hears why, as its last event).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

from studio.codecs.text import TextCodec
from studio.generation import Generator
from studio.generation.decoding import check_request_memory
from studio.generation.rows import Row, generate_rows
from studio.generation.sampling import MAX_BATCH

# How long the worker waits for more requests to join the first one of a batch.
BATCH_WINDOW_S = 0.02

# Events a job's listener hears: ("chunk", sample, text), ("done", what `finish` returned), ("error", message).
Listener = Callable[[tuple[Any, ...]], None]


@dataclass
class TextJob:
    """One request: its rows, how to tell its listener, and whether to stop early."""

    generator: Generator
    prompt: str
    rows: list[Row]
    listen: Listener
    finish: Callable[[list[str], bool], Any] = lambda texts, interrupted: texts
    cancelled: threading.Event = field(default_factory=threading.Event)
    deadline: float = math.inf  # time.monotonic() past which the job leaves its batch
    time_limit: str = ""  # what its listener hears once it did
    timed_out: bool = False
    _ids: list[list[int]] = field(default_factory=list)
    _sent: list[str] = field(default_factory=list)

    @property
    def codec(self) -> TextCodec:
        codec = self.generator.loaded.codec
        assert isinstance(codec, TextCodec)
        return codec

    def start(self) -> None:
        """Every sample begins with the prompt."""
        self._ids = [[] for _ in self.rows]
        self._sent = [self.prompt for _ in self.rows]
        for sample, text in enumerate(self._sent):
            self.listen(("chunk", sample, text))

    def heard(self, sample: int, ids: list[int]) -> None:
        """New ids of one sample: send the text they add (held back while a character is still incomplete)."""
        if not ids:
            return
        self._ids[sample] += ids
        text = self.prompt + self.codec.decode(self._ids[sample])
        sent = self._sent[sample]
        if len(text) > len(sent) and text.startswith(sent):
            self._sent[sample] = text
            self.listen(("chunk", sample, text[len(sent) :]))

    def stopped(self) -> bool:
        """Whether the job should leave its batch: its client left, or it ran past its deadline."""
        if not self.timed_out and time.monotonic() >= self.deadline:
            self.timed_out = True
        return self.timed_out or self.cancelled.is_set()

    def texts(self, rows: list[list[int]]) -> list[str]:
        """The finished texts, as `Generator.text` gives them: the prompt, then the decoded ids."""
        return [self.prompt + self.codec.decode(ids) for ids in rows]


class _BatchWatcher:
    """Maps the batch's rows back to their jobs."""

    def __init__(self, jobs: list[TextJob]) -> None:
        self.owner = [(job, sample) for job in jobs for sample in range(len(job.rows))]

    def tokens(self, row: int, ids: list[int]) -> None:
        job, sample = self.owner[row]
        job.heard(sample, ids)

    def cancelled(self, row: int) -> bool:
        return self.owner[row][0].stopped()


class TextBatcher:
    """A worker thread that generates queued text jobs, joining those for the same checkpoint into one batch."""

    def __init__(self, window_s: float = BATCH_WINDOW_S, max_rows: int = MAX_BATCH) -> None:
        self.window_s, self.max_rows = window_s, max_rows
        self._queue: queue.Queue[Optional[TextJob]] = queue.Queue()
        self._waiting: list[TextJob] = []
        # Finished jobs are saved beside the worker, so the next batch starts at once.
        self._savers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="studio-text-saver")
        self._thread = threading.Thread(target=self._work, name="studio-text-batcher", daemon=True)
        self._thread.start()
        self.batches: list[int] = []  # the number of jobs in each batch run so far (for tests and the benchmark)

    def submit(self, job: TextJob) -> None:
        """Queue `job`; its listener hears its chunks and its end from the worker thread."""
        model, longest = job.generator.loaded.model, max(row.length for row in job.rows)
        check_request_memory(model, len(job.rows), longest, "ask for fewer samples or a shorter length")
        self._queue.put(job)

    def close(self) -> None:
        """Stop the worker after the batch it is running."""
        self._queue.put(None)
        self._thread.join(timeout=30)
        self._savers.shutdown(wait=True)

    def _next_batch(self) -> Optional[list[TextJob]]:
        """The oldest waiting job, and every job for the same checkpoint that arrives within the window."""
        if not self._waiting:
            first = self._queue.get()
            if first is None:
                return None
            self._waiting.append(first)
        deadline = time.monotonic() + self.window_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                job = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # finish this batch, then stop
                break
            self._waiting.append(job)
        key = self._waiting[0].generator.path
        batch: list[TextJob] = []
        rows = 0
        for job in list(self._waiting):
            if job.generator.path == key and (not batch or rows + len(job.rows) <= self.max_rows):
                batch.append(job)
                rows += len(job.rows)
                self._waiting.remove(job)
        return batch

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            batch = [job for job in batch if not job.stopped()]
            if batch:
                self.batches.append(len(batch))
                self._run(batch)

    def _run(self, batch: list[TextJob]) -> None:
        for job in batch:
            job.start()
        model = batch[0].generator.loaded.model
        try:
            rows = generate_rows(model, [row for job in batch for row in job.rows], watcher=_BatchWatcher(batch))
        except Exception as error:  # a request that cannot run: its listeners hear why, the worker goes on
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            for job in batch:
                job.listen(("error", message))
            return
        first = 0
        for job in batch:
            self._savers.submit(self._finish, job, rows[first : first + len(job.rows)])
            first += len(job.rows)

    @staticmethod
    def _finish(job: TextJob, rows: list[list[int]]) -> None:
        """Save one job's texts and tell its listener (or why saving failed)."""
        texts = job.texts(rows)
        try:
            record = job.finish(texts, job.cancelled.is_set() or job.timed_out)
        except Exception as error:  # saving failed (a full disk): the one-line reason
            job.listen(("error", str(error).splitlines()[0] if str(error) else type(error).__name__))
            return
        if job.timed_out:  # what it had is saved (in the run's history); its listener hears why it stopped
            job.listen(("error", job.time_limit or "the request ran past its time limit"))
        else:
            job.listen(("done", record))
