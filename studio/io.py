"""Files on disk: the cache folder, the one atomic writer everything that publishes a file uses, the one check of
names a user gives that become paths (`safe_name`, `inside`), and reading a file whole only up to a size."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

from studio.errors import StudioError


def cache_root() -> Path:
    """The cache folder: `$STUDIO_CACHE`, else `~/.cache/studio`."""
    return Path(os.environ.get("STUDIO_CACHE") or Path.home() / ".cache" / "studio")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on failure removed.

    A reader never sees a half-written file, and a failed write leaves nothing behind.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` so that a reader never sees a half-written file (nothing is left on failure)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def os_reason(error: OSError) -> str:
    """The operating system's words for `error` (e.g. 'No space left on device')."""
    return error.strerror or type(error).__name__


def os_error_line(error: OSError) -> str:
    """One line for a filesystem failure nobody anticipated more precisely: the path, the OS's reason, the fix."""
    where = f"{error.filename}: " if error.filename else ""
    return (
        f"{where}{os_reason(error)}: check the path and its permissions, or free disk space "
        "(files written before this point are intact)"
    )


class FileTooLarge(StudioError):
    """A file over the size its reader takes, refused before it is read; `given_as` names the option that gave it."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int, kind: str, option: str = "") -> None:
        self.path, self.size, self.limit, self.kind, self.option = path, size, limit, kind, option
        super().__init__(
            f"{option or kind} {path} cannot be read: it is {size / 1024**2:,.0f} MB, over the {limit / 1024**2:,.0f} MB "
            f"a {kind} may be"
        )

    def given_as(self, option: str) -> FileTooLarge:
        """The same refusal, naming the file as the command-line `option` that gave it (e.g. --primer)."""
        return FileTooLarge(self.path, self.size, self.limit, self.kind, option)

    def __reduce__(self) -> tuple[type, tuple[str | os.PathLike[str], int, int, str, str]]:  # across a process pool
        return (type(self), (self.path, self.size, self.limit, self.kind, self.option))


def read_capped(path: str | os.PathLike[str], limit: int, kind: str) -> bytes:
    """The bytes of the file at `path` (a `kind`), FileTooLarge in one line before anything is read when it is over
    `limit` bytes; never more than `limit` + 1 bytes are read (a file that grows meanwhile is refused too)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise FileTooLarge(path, size, limit, kind)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(path, len(data), limit, kind)
    return data


def check_free_space(folder: Path, needed: float, what: str) -> None:
    """Refuse in one line when `needed` bytes of `what` (a cache entry) would not fit on `folder`'s disk."""
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise StudioError(
            f"{what} needs about {needed / 1e6:,.0f} MB but {folder.parent} has {free / 1e6:,.0f} MB free: "
            "free disk space, or point STUDIO_CACHE (or --data.init_args.cache_dir) at a larger disk"
        )


def disk_error(what: str, error: OSError) -> StudioError:
    """A one-line error for a write the filesystem refused: what was written, where, and the OS's reason."""
    where = f" ({error.filename})" if error.filename else ""
    return StudioError(f"cannot write {what}{where}: {os_reason(error)}; free space or choose another folder")


# Names a user gives that become one folder or file under a root (a run, an upload): plain names only.
NAME_LIMIT = 100
FILE_NAME_LIMIT = 255  # bytes: the longest file name most filesystems take
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")
PLAIN_CHARACTERS = "letters, digits, - _ . + ="


def name_problem(name: str, strict: bool = True) -> Optional[str]:
    """What keeps `name` from being one plain folder or file name under a root; None when nothing does.

    Always refused: an empty name, `.` and `..`, `/` or `\\`, NUL or another control character, and
    names too long for a file. `strict` (names a user types, such as run names) also refuses `..`
    anywhere and a leading `.`, and asks for PLAIN_CHARACTERS only, starting with a letter or digit,
    at most NAME_LIMIT characters. Names that come with files (uploads, a checkpoint's folder) are
    not strict: they may hold spaces and other letters.
    """
    if not name:
        return "it is empty"
    if "/" in name or "\\" in name:
        return "it holds / or \\"
    if name in (".", ".."):
        return f"it is {name!r}"
    if strict and ".." in name:
        return "it holds '..'"
    if strict and name.startswith("."):
        return "it starts with '.'"
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        return "it holds a control character"
    if len(name.encode("utf-8", "surrogatepass")) > FILE_NAME_LIMIT:
        return f"it is longer than {FILE_NAME_LIMIT} bytes"
    if strict and len(name) > NAME_LIMIT:
        return f"it is {len(name)} characters long"
    if strict and not PLAIN_NAME.fullmatch(name):
        if not PLAIN_NAME.match(name):
            return f"it starts with {name[0]!r}"
        return f"it holds {next(c for c in name if not PLAIN_NAME.fullmatch('a' + c))!r}"
    return None


def safe_name(option: str, name: str, example: str, strict: bool = True) -> str:
    """`name` when it is a plain name (see `name_problem`); else one line naming `option`, the rule and an example."""
    problem = name_problem(name, strict)
    if problem is None:
        return name
    shown = name if len(name) <= 60 else name[:57] + "..."
    rule = f"a plain name ({PLAIN_CHARACTERS}; at most {NAME_LIMIT} characters)" if strict else "a plain file name"
    instead = f"{option} {example}" if option.startswith("-") else repr(example)
    raise StudioError(f"{option} {shown!r} must be {rule}, not a path ({problem}): e.g. {instead}")


def inside(root: str | os.PathLike[str], option: str, name: str, example: str, strict: bool = True) -> Path:
    """`root/name`, for a `name` checked by `safe_name`: the one way a user-given name becomes a path under `root`."""
    return Path(root) / safe_name(option, name, example, strict)


def plain_name(text: str, fallback: str) -> str:
    """`text` made a name that `name_problem(..., strict=False)` accepts: for names Studio takes from elsewhere.

    (A checkpoint's folder name, say, which the user never typed as a name.) Separators and control
    characters become `-`, and a result that is still no name (empty, `.`, `..`) is `fallback`.
    """
    if name_problem(text, strict=False) is None:
        return text
    name = re.sub(r"[/\\\x00-\x1f\x7f]", "-", text)
    while len(name.encode("utf-8", "surrogatepass")) > FILE_NAME_LIMIT:
        name = name[:-1]
    return name if name_problem(name, strict=False) is None else fallback
