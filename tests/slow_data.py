"""A test-only data module whose store is slow to build: its source reads slowly (as from a busy network
filesystem), so a first preparation outlasts a short process-group time-out. Each read of the source leaves
a file `<reads_dir>/<pid>-<time>`, so a test can tell which process built the store and how often."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datamodules.classification import ClassificationDataModule
from studio.codecs.labelled import Record


class SlowClassificationData(ClassificationDataModule):
    """ClassificationDataModule whose records take `read_seconds` to start arriving, on every read of the source.

    Only building the store reads the source (twice); mapping a store already built reads nothing.
    """

    def __init__(self, read_seconds: float, reads_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_seconds, self.reads_dir = read_seconds, Path(reads_dir)

    def _records(self) -> Iterator[Record]:
        self.reads_dir.mkdir(parents=True, exist_ok=True)
        (self.reads_dir / f"{os.getpid()}-{time.monotonic_ns()}").touch()
        time.sleep(self.read_seconds)
        yield from super()._records()
