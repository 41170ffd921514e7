"""Uploaded files: size-capped while they are read, checked for what they claim to be, kept only in a temporary folder.

The name a file is sent under is only ever a plain file name (`studio.io.safe_name`): it names the
results saved from it (a tagged clip's `<name>.phn`), so a name that is a path is refused (400).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from starlette.datastructures import UploadFile

from studio.errors import StudioError
from studio.io import safe_name

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UploadKind:
    """What an upload must be: a name for messages, a size cap, and the signatures its first bytes may have."""

    what: str
    max_bytes: int
    suffix: str
    signatures: tuple[tuple[int, bytes], ...]  # (offset, bytes) pairs; any one must match
    example: str = "upload"  # a name such a file is sent under, for messages

    def matches(self, head: bytes) -> bool:
        """Whether the first bytes fit one of the signatures (any bytes, for a kind without signatures)."""
        return not self.signatures or any(
            head[offset : offset + len(magic)] == magic for offset, magic in self.signatures
        )


MIDI_UPLOAD = UploadKind("a MIDI file (.mid)", 10 * 1024**2, ".mid", ((0, b"MThd"),), "primer.mid")
AUDIO_UPLOAD = UploadKind(
    "a WAV, FLAC or Ogg audio file",
    50 * 1024**2,
    ".audio",
    ((8, b"WAVE"), (0, b"fLaC"), (0, b"OggS")),
    "clip.wav",
)

# A text to classify or tag (checked as UTF-8 when it is read).
TEXT_UPLOAD = UploadKind("a UTF-8 text file", 10 * 1024**2, ".txt", (), "review.txt")


class UploadTooLarge(StudioError):
    """An upload over its cap (the server answers 413)."""


async def read_capped(upload: UploadFile, kind: UploadKind) -> bytes:
    """The upload's bytes, refused in one line once it passes `kind.max_bytes`, when it is not `kind`, or when the
    name it is sent under is not a plain file name."""
    upload_name(upload, kind)
    data = bytearray()
    while chunk := await upload.read(CHUNK):
        data += chunk
        if len(data) > kind.max_bytes:
            raise UploadTooLarge(
                f"{upload.filename or 'the upload'} is over {kind.max_bytes // 1024**2} MB: send a smaller file"
            )
    if not data:
        raise StudioError(f"{upload.filename or 'the upload'} is empty: choose {kind.what}")
    if not kind.matches(bytes(data[:16])):
        raise StudioError(f"{upload.filename or 'the upload'} is not {kind.what}: choose one")
    return bytes(data)


def upload_name(upload: UploadFile, kind: UploadKind) -> str:
    """The name the file was sent under ('upload' when none), checked to be one plain file name, never a path."""
    return safe_name("the upload's name", upload.filename or "upload", kind.example, strict=False)


@contextmanager
def temporary_file(data: bytes, kind: UploadKind) -> Iterator[Path]:
    """`data` in a fresh temporary folder for the duration of the block; removed afterwards, whatever happens."""
    with tempfile.TemporaryDirectory(prefix="studio-upload-") as folder:
        path = Path(folder) / f"upload{kind.suffix}"
        path.write_bytes(data)
        yield path
