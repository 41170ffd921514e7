"""Where generated files go: a fresh folder per request under `samples/<run>/`, complete or not at all.

Every front end saves through `SampleFolder` (`studio sample`, `tag`, `classify`, `evaluate` and the web studio), so a generation
looks the same on disk wherever it was made: the sample files and a `settings.json` that records how they were made.
Every name that becomes part of its path stays one plain name inside the samples folder (`studio.io`): the run's
(from the checkpoint's folder, made plain if need be), the prefix, and each file's.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

from studio.io import atomic_write_bytes, disk_error, plain_name, safe_name


def new_folder(root: Path, run: str, seed: int, prefix: str = "") -> Path:
    """A new folder `root/<run>/[<prefix>-]<time>-seed<seed>` (suffixed -2, -3, ... if taken): nothing is overwritten.

    `run` and `prefix` must be plain names (a one-line StudioError otherwise), so the folder stays under `root`.
    """
    safe_name("run", run, "my-run", strict=False)
    if prefix:
        safe_name("prefix", prefix, "eval")
    base = root / run / f"{prefix + '-' if prefix else ''}{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}"
    folder, n = base, 1
    while True:
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
        except OSError as error:
            raise disk_error(f"the samples folder under {root}", error) from None


def run_name(ckpt: Path) -> str:
    """The run a checkpoint belongs to: the name of its folder (checkpoints/<run>/last.ckpt), as a plain name.

    A folder name that would not be one (`.hidden`, or none for a checkpoint at the filesystem's root)
    is made plain: `hidden`, `checkpoint`.
    """
    return plain_name(ckpt.resolve().parent.name, "checkpoint")


class SampleFolder:
    """A fresh output folder for one request: on success it holds every file and `settings.json`.

    Used as a context manager: if anything fails before the end (a full disk, a read-only folder, an
    error), the folder and what was written into it are removed and the OS's reason is reported in
    one line. `settings.json` is written last, so a folder that has it is complete.
    """

    def __init__(self, root: Path | str, ckpt: Path | str, seed: int, prefix: str = "") -> None:
        self.root, self.ckpt, self.seed, self.prefix = Path(root), Path(ckpt), seed, prefix
        self.path: Optional[Path] = None
        self.renderers: set[str] = set()  # what rendered the audio written here (FluidSynth or the built-in synth)
        self._made: list[Path] = []  # folders above `path` that this request created

    def __enter__(self) -> SampleFolder:
        run_folder = self.root / run_name(self.ckpt)
        self._made = [p for p in (run_folder, *run_folder.parents) if not p.exists()]
        self.path = new_folder(self.root, run_name(self.ckpt), self.seed, self.prefix)
        return self

    def write(self, name: str, data: bytes) -> Path:
        """Write one file into the folder atomically; return its path."""
        assert self.path is not None, "use SampleFolder as a context manager"
        target = self.path / safe_name("a generated file's name", name, "sample_1.txt", strict=False)
        try:
            atomic_write_bytes(target, data)
        except OSError as error:
            raise disk_error(str(target), error) from None
        return target

    def write_settings(self, settings: dict[str, Any]) -> Path:
        """Record how the samples were made (call it last: its presence marks the folder complete)."""
        return self.write("settings.json", json.dumps(settings, indent=2, default=str).encode("utf-8"))

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        if error is None or self.path is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        for folder in self._made:  # innermost first; only while still empty
            try:
                folder.rmdir()
            except OSError:
                break
        if isinstance(error, OSError):
            raise disk_error(f"the samples in {self.path}", error) from None
