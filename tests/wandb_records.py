"""Read the records of an offline W&B run file (`run-*.wandb`), for tests that check what was logged.

The file is a LevelDB-style log: a 7-byte header, then 32 KiB blocks of chunks, each with a
7-byte header (crc32, length, type: 1 full, 2 first, 3 middle, 4 last) and a piece of a
protobuf `Record`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

BLOCK = 32768
HEADER = 7


def records(path: Path) -> Iterator[pb.Record]:
    """Every record of the run file, in order."""
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    offset, pending = 7, b""
    while offset + HEADER <= len(data):
        left_in_block = BLOCK - offset % BLOCK
        if left_in_block < HEADER:
            offset += left_in_block
            continue
        _, length, kind = struct.unpack("<IHB", data[offset : offset + HEADER])
        chunk = data[offset + HEADER : offset + HEADER + length]
        offset += HEADER + length
        if kind == 0 and length == 0:
            offset += BLOCK - offset % BLOCK if offset % BLOCK else 0
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record
            pending = b""


def summary(path: Path) -> dict[str, object]:
    """What a test wants to know: run name, config keys, history keys, and logged table keys."""
    out: dict[str, object] = {"name": None, "config": set(), "history": set(), "files": set()}
    for record in records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["name"] = record.run.display_name
            out["config"] |= {item.key for item in record.run.config.update}
        elif kind == "config":
            out["config"] |= {item.key for item in record.config.update}
        elif kind == "history":
            out["history"] |= {item.key or "/".join(item.nested_key) for item in record.history.item}
        elif kind == "files":
            out["files"] |= {f.path for f in record.files.files}
    return out
