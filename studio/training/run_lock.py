"""One process owns a run folder at a time: a lock held for the run's life, naming who holds it.

`studio fit` takes `checkpoints/<run>/run.lock` (`fcntl.flock`, which the OS releases when the process
dies) before it reads or writes anything of the run, and writes into it who holds it: pid, host, start
time and command. A second `fit` of the same folder is refused in one line that names the holder. In a
distributed job only the launching process takes it (rank zero: Lightning's launcher, or rank 0 of
torchrun or SLURM); the other ranks belong to the same job and take nothing.

`validate` and `test` take it only to add a checkpoint's figures to the metrics.csv of that
checkpoint's own run, and only when it is free: while another process holds it, or for a checkpoint of
another run, they use the run folder read-only. The holder removes the file when it lets go; one left
behind names a process that ended without letting go (killed), and the next run takes it over with a
notice. The run's state for the web studio stays in `status.json` (metrics_file.py).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Optional

from studio.errors import StudioError

LOCK_FILE = "run.lock"
# Set for the processes of a distributed job: a rank other than 0 is not the launching process.
RANK_VARIABLES = (
    "RANK",
    "LOCAL_RANK",
    "NODE_RANK",
    "GROUP_RANK",
    "SLURM_PROCID",
    "OMPI_COMM_WORLD_RANK",
    "PMI_RANK",
    "JSM_NAMESPACE_RANK",
)
ATTEMPTS = 5  # a lock file removed or replaced while we opened it: try again this many times


class RunInUse(StudioError):
    """Another process owns the run folder."""


@dataclass(frozen=True)
class Holder:
    """Who holds a run's lock: what the refused process is told."""

    pid: int
    host: str
    started: float
    command: str

    @classmethod
    def now(cls, command: str) -> Holder:
        """This process, starting `command` now."""
        return cls(os.getpid(), socket.gethostname(), time.time(), command)

    @classmethod
    def parse(cls, data: bytes) -> Optional[Holder]:
        """The holder a lock file names (None for an empty or unreadable one)."""
        try:
            record = json.loads(data.decode("utf-8"))
            return cls(int(record["pid"]), str(record["host"]), float(record["started"]), str(record["command"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def describe(self) -> str:
        """`studio fit (pid 1234 on host x) since 12:01`."""
        started = time.localtime(self.started)
        when = "%H:%M" if started[:3] == time.localtime()[:3] else "%Y-%m-%d %H:%M"
        return f"{self.command} (pid {self.pid} on host {self.host}) since {time.strftime(when, started)}"

    def gone(self) -> bool:
        """Whether the holder is known to have ended: a process of this host that is no longer running."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, someone else's
            return False
        return False


def other_rank() -> bool:
    """Whether this process is a rank of a distributed job other than the launching one (which holds the lock)."""
    for name in RANK_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return True
    return False


def notice(text: str) -> None:
    """A line on stderr about the run folder (not an error)."""
    print(f"studio: {text}", file=sys.stderr, flush=True)


def in_use(folder: Path | str, holder: Optional[Holder]) -> RunInUse:
    """The one-line refusal for a run folder another process owns."""
    who = holder.describe() if holder is not None else "another process"
    return RunInUse(f"{folder} is in use by {who}: wait for it to end, or use another --run_name")


def holder_of(folder: Path | str) -> Optional[Holder]:
    """Who holds (or last held, if it was killed) the lock of the run in `folder`; None when nobody is named."""
    try:
        return Holder.parse((Path(folder) / LOCK_FILE).read_bytes())
    except OSError:
        return None


class RunLock:
    """The lock on one run folder, held by this process until `release` (or its end)."""

    def __init__(self, folder: Path, fd: Optional[int], made: list[Path]) -> None:
        self.folder, self.path = folder, folder / LOCK_FILE
        self._fd, self._made, self._pid = fd, made, os.getpid()

    @classmethod
    def acquire(cls, folder: Path | str, command: str, refuse: bool = True) -> Optional[RunLock]:
        """Take the lock of the run in `folder` (made if need be) for `command`, e.g. `studio fit`.

        When another process holds it: RunInUse naming it, or None with `refuse=False`. A lock whose
        holder was killed is taken over with a notice (also when a child it forked still holds the file).
        """
        folder = Path(folder)
        made = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        try:
            lock = cls._take(folder, command, made, refuse)
        except BaseException:
            _remove_empty(made)
            raise
        if lock is None:
            _remove_empty(made)
        return lock

    @classmethod
    def _take(cls, folder: Path, command: str, made: list[Path], refuse: bool) -> Optional[RunLock]:
        path = folder / LOCK_FILE
        holder: Optional[Holder] = None
        for _ in range(ATTEMPTS):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = holder_of(folder)
                if holder is not None and holder.gone():
                    # Its process ended, but a process it forked (a data loader worker) still holds the file.
                    _set_aside(path, holder)
                    notice(f"{folder} was held by {holder.describe()}, which has ended: taking the run over")
                    continue
                if not refuse:
                    return None
                raise in_use(folder, holder) from None
            except OSError as error:  # a filesystem without locks (some network mounts)
                os.close(fd)
                if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL):
                    raise
                notice(f"{folder} cannot be locked ({error.strerror}): do not run it twice at once")
                return cls(folder, None, made)
            if not _same_file(fd, path):  # removed by its last holder meanwhile: open the new one
                os.close(fd)
                continue
            try:
                left = Holder.parse(os.pread(fd, 1 << 16, 0))
                if left is not None:
                    notice(
                        f"{folder} was left locked by {left.describe()}, which ended without letting go: taking it over"
                    )
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(asdict(Holder.now(command))).encode("utf-8"), 0)
            except BaseException:
                os.close(fd)
                raise
            return cls(folder, fd, made)
        if not refuse:
            return None
        raise in_use(folder, holder)

    @property
    def held(self) -> bool:
        """Whether this process still holds it."""
        return self._fd is not None

    def release(self) -> None:
        """Let go: the file is removed first (while held), so no later process mistakes it for a killed holder's."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.getpid() != self._pid:  # a forked child's copy: the lock stays its parent's
            os.close(fd)
            return
        try:
            if _same_file(fd, self.path):
                self.path.unlink()
            fcntl.flock(fd, fcntl.LOCK_UN)  # for the children forked meanwhile too (they share the lock)
        except OSError:
            pass
        finally:
            os.close(fd)
        _remove_empty(self._made)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self, kind: Optional[type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self.release()


def belongs(ckpt_path: Optional[str], folder: Path | str) -> bool:
    """Whether the checkpoint file `ckpt_path` is one of the run in `folder` (its last.ckpt, best.ckpt, ...)."""
    if not ckpt_path or not os.path.isfile(ckpt_path):
        return False
    return Path(ckpt_path).resolve().parent == Path(folder).resolve()


def claim_run(command: str, folder: str, ckpt_path: Optional[Any]) -> Optional[RunLock]:
    """The lock this process holds on the run folder while it runs `command` (fit, validate, test), or None.

    `fit` takes it, or is refused in one line while another process holds it. `validate` and `test` take
    it only for a checkpoint of this very run and only when it is free; otherwise (None) they write
    nothing into the run folder, and say so where the run keeps figures they might expect there.
    Other ranks of a distributed job take nothing: the launching process holds it for the job.
    """
    if other_rank():
        return None
    if command == "fit":
        return RunLock.acquire(folder, "studio fit")
    if command not in ("validate", "test"):
        return None
    ckpt = str(ckpt_path) if ckpt_path else None
    metrics = Path(folder) / "metrics.csv"
    if not belongs(ckpt, folder):
        if command == "validate" and ckpt and os.path.isfile(ckpt) and metrics.is_file():
            notice(f"{ckpt} is not a checkpoint of {folder}: its figures are not added to {metrics}")
        return None
    try:
        lock = RunLock.acquire(folder, f"studio {command}", refuse=False)
    except OSError:  # a folder this user may read but not write: use it read-only
        return None
    if lock is None and command == "validate":
        notice(f"{folder} is in use by {_who(folder)}: the figures are not added to its metrics.csv")
    return lock


def _who(folder: Path | str) -> str:
    holder = holder_of(folder)
    return holder.describe() if holder is not None else "another process"


def _same_file(fd: int, path: Path) -> bool:
    """Whether `fd` is still the file at `path` (not removed or replaced since it was opened)."""
    try:
        mine, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _set_aside(path: Path, holder: Holder) -> None:
    """Remove a lock file still naming `holder` (a killed process), so a fresh one can be taken."""
    try:
        if Holder.parse(path.read_bytes()) == holder:
            path.unlink()
    except OSError:
        pass


def _remove_empty(made: list[Path]) -> None:
    """Remove the folders this process made, innermost first, while they are empty."""
    for folder in made:
        try:
            folder.rmdir()
        except OSError:
            break
