"""Verified downloads: stream a URL into the cache once (size and digests checked), and unpack archives safely.

A download is published atomically, so two processes fetching one file at once both end with a whole copy;
the data modules hold a lock around it (`datamodules.remote_files`) so that only one of them downloads."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import stat
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Optional

from studio.errors import StudioError
from studio.io import atomic_path, atomic_write_bytes, disk_error

CHUNK = 1 << 20
PROGRESS_AFTER = 2.0  # seconds: quick downloads stay silent
PROGRESS_EVERY = 5.0  # seconds between progress lines (a log file gets lines, not a redrawn bar)
DEFAULT_HINT = "--data.init_args.path"


@dataclass(frozen=True)
class Remote:
    """A file on the web: its URL and what it must be (size, SHA-256, MD5, when known); `max_bytes` caps the rest."""

    url: str
    size: Optional[int] = None
    sha256: Optional[str] = None
    md5: Optional[str] = None
    max_bytes: int = 2 * 1024**3


def fetch(remote: Remote, target: Path, hint: str = DEFAULT_HINT, verify: bool = False, timeout: float = 60.0) -> Path:
    """Download `remote` into `target` once (streamed, size- and digest-checked, published atomically); return it."""
    target = Path(target)
    digest_file = target.with_name(target.name + ".sha256")
    if _cached(remote, target, digest_file, verify):
        return target
    # A stale or damaged copy goes first, so that a failed download leaves nothing at `target`.
    digest_file.unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    fix = f"try again later, or download it yourself and pass the local path with {hint}"
    try:
        with atomic_path(target) as tmp:
            size, sha256, md5 = _stream(remote, tmp, hint, timeout)
            if remote.size is not None and size != remote.size:
                raise StudioError(f"download of {remote.url} has {size} bytes, expected {remote.size}: {fix}")
            for name, expected, got in (("SHA-256", remote.sha256, sha256), ("MD5", remote.md5, md5)):
                if expected is not None and got != expected.lower():
                    raise StudioError(f"download of {remote.url} failed its {name} check (got {got}): {fix}")
        atomic_write_bytes(digest_file, f"{sha256} {size}\n".encode())
    except OSError as error:  # network errors became StudioErrors already: this is the disk
        raise disk_error(f"the download of {remote.url}", error) from None
    return target


def fetched(remote: Remote, target: Path) -> bool:
    """Whether `target` holds a recorded, whole copy of `remote` already (checked by size, not re-hashed)."""
    target = Path(target)
    return _cached(remote, target, target.with_name(target.name + ".sha256"), verify=False)


def _cached(remote: Remote, target: Path, digest_file: Path, verify: bool) -> bool:
    # The recorded digest and size vouch for the copy; re-hashing a large archive on every run is too slow.
    try:
        recorded = digest_file.read_text().split()
        size = target.stat().st_size
    except (OSError, UnicodeDecodeError):
        return False
    if not recorded or (remote.sha256 is not None and recorded[0] != remote.sha256.lower()):
        return False
    kept = int(recorded[1]) if recorded[1:2] and recorded[1].isdigit() else None
    expected = remote.size if remote.size is not None else kept
    if expected is not None and size != expected:
        return False
    if not verify and expected is not None:
        return True
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with open(target, "rb") as source:
        while chunk := source.read(CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
    if sha256.hexdigest() != recorded[0] or (remote.md5 is not None and md5.hexdigest() != remote.md5.lower()):
        return False
    if expected is None:  # a record from before sizes were kept: keep the size now, so the next run needs no hashing
        atomic_write_bytes(digest_file, f"{recorded[0]} {size}\n".encode())
    return True


def _stream(remote: Remote, tmp: Path, hint: str, timeout: float) -> tuple[int, str, str]:
    """Copy the response into `tmp` chunk by chunk; return its size, SHA-256 and MD5."""
    limit = remote.size if remote.size is not None else remote.max_bytes
    too_long = f"expected {remote.size}" if remote.size is not None else f"over the cap max_bytes={remote.max_bytes}"
    fix = f"check the URL, or download it yourself and pass the local path with {hint}"
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        response = urllib.request.urlopen(remote.url, timeout=timeout)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise _network_error(remote.url, error, hint) from None
    with response, open(tmp, "wb") as out:
        length = response.headers.get("Content-Length", "")
        announced = int(length) if length.isdigit() else None
        # A server that announces the wrong length is refused before a byte is read.
        if announced is not None and announced != remote.size and (remote.size is not None or announced > limit):
            raise StudioError(f"download of {remote.url} has {announced} bytes, {too_long}: {fix}")
        progress = _Progress(remote.url, remote.size if remote.size is not None else announced)
        while True:
            try:
                # Never more than one byte past the limit: an endless response is cut off right there.
                chunk = response.read(min(CHUNK, limit + 1 - received))
            except (OSError, http.client.HTTPException) as error:
                raise _network_error(remote.url, error, hint) from None
            if not chunk:
                break
            received += len(chunk)
            if received > limit:
                raise StudioError(f"download of {remote.url} has more than {limit} bytes, {too_long}: {fix}")
            sha256.update(chunk)
            md5.update(chunk)
            out.write(chunk)
            progress.show(received)
    return received, sha256.hexdigest(), md5.hexdigest()


def _network_error(url: str, error: Exception, hint: str) -> StudioError:
    if isinstance(error, urllib.error.HTTPError):
        reason = f"HTTP {error.code} {error.reason}"
    elif isinstance(error, urllib.error.URLError):
        reason = str(error.reason)
    else:
        reason = str(error) or type(error).__name__
    reason = " ".join(reason.split())  # one line, whatever the library said
    return StudioError(
        f"could not download {url} ({reason}): check the network, "
        f"or download it yourself and pass the local path with {hint}"
    )


class _Progress:
    """One stderr line every PROGRESS_EVERY seconds, once a download has run PROGRESS_AFTER seconds."""

    def __init__(self, url: str, total: Optional[int]) -> None:
        self.url, self.total = url, total
        self.started = self.last = time.monotonic()

    def show(self, received: int) -> None:
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER or now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        total = f" / {self.total / 1e6:,.1f}" if self.total else ""
        rate = received / max(now - self.started, 1e-9) / 1e6
        print(
            f"downloading {self.url}: {received / 1e6:,.1f}{total} MB ({rate:,.1f} MB/s)", file=sys.stderr, flush=True
        )


def extract_tar(archive: Path, folder: Path) -> Path:
    """Extract the .tar(.gz) `archive` into `folder` once, refusing unsafe members; publish the folder atomically."""

    def unpack(tmp: Path) -> None:
        with tarfile.open(archive, "r:*") as tar:  # members are read in order: the archive streams, never held whole
            members = (_safe_member(archive, member) for member in tar)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # older Pythons: the checks in _safe_member stand alone
                tar.extractall(tmp, members=members)

    return _extracted(archive, folder, unpack)


def extract_zip(archive: Path, folder: Path) -> Path:
    """Extract the .zip `archive` into `folder` once, member by member, refusing unsafe names; publish it atomically."""

    def unpack(tmp: Path) -> None:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:  # every name is checked before a byte is written
                _check_zip_member(archive, member)
            for member in members:
                target = tmp.joinpath(*PurePosixPath(member.filename.replace("\\", "/")).parts)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, CHUNK)  # streamed: bounded memory whatever the member's size

    return _extracted(archive, folder, unpack)


def _extracted(archive: Path, folder: Path, unpack: Callable[[Path], None]) -> Path:
    """`folder`, first filled by `unpack(tmp)` in a temporary folder beside it and renamed into place."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    if not Path(archive).is_file():
        raise StudioError(f"archive {archive} does not exist: download it first, or check the path")
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)  # left by a killed run of this same process id
    try:
        tmp.mkdir(parents=True)
        unpack(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():  # else another process published the same folder first
                raise
    except (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error) as error:
        reason = " ".join(str(error).split())
        raise StudioError(
            f"archive {archive} cannot be extracted ({reason}): delete it and download it again"
        ) from None
    except OSError as error:
        raise disk_error(f"the contents of {archive}", error) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _check_zip_member(archive: Path, member: zipfile.ZipInfo) -> None:
    """Refuse a zip member whose name could write outside the folder, or that is a link."""
    name = member.filename.replace("\\", "/")
    why = None
    if name.startswith("/") or PureWindowsPath(name).drive:
        why = "an absolute path"
    elif ".." in PurePosixPath(name).parts:
        why = "a '..' path"
    elif stat.S_ISLNK(member.external_attr >> 16):
        why = "a link"
    if why is not None:
        raise StudioError(
            f"archive {archive} has an unsafe member {member.filename!r} ({why}): nothing was extracted; "
            "get the archive from its official source"
        )


def _safe_member(archive: Path, member: tarfile.TarInfo) -> tarfile.TarInfo:
    """`member` itself, unless it could write outside the folder or is a device."""
    why = None
    if member.name.startswith(("/", "\\")) or os.path.isabs(member.name):
        why = "an absolute path"
    elif ".." in Path(member.name).parts:
        why = "a '..' path"
    elif member.isdev():
        why = "a device or pipe"
    elif member.issym() or member.islnk():
        # Symbolic links are relative to their own folder, hard links to the archive's root.
        base = os.path.dirname(member.name) if member.issym() else ""
        link = os.path.normpath(os.path.join(base, member.linkname))
        if os.path.isabs(member.linkname) or link == ".." or link.startswith(".." + os.sep):
            why = f"a link to {member.linkname} outside the folder"
    if why is not None:
        raise StudioError(
            f"archive {archive} has an unsafe member {member.name!r} ({why}): nothing was extracted; "
            "get the archive from its official source"
        )
    return member


def gunzip(archive: Path, target: Path) -> Path:
    """Decompress the .gz `archive` into `target` once, streamed and published atomically; return `target`."""
    target = Path(target)
    if target.exists():
        return target
    if not Path(archive).is_file():
        raise StudioError(f"archive {archive} does not exist: download it first, or check the path")
    try:
        with atomic_path(target) as tmp, gzip.open(archive, "rb") as source, open(tmp, "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise StudioError(
            f"archive {archive} is not a valid .gz file ({' '.join(str(error).split())}): delete it and download it again"
        ) from None
    except OSError as error:
        raise disk_error(f"the contents of {archive}", error) from None
    return target
