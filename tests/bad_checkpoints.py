"""Damaged, foreign and hostile variants of a real checkpoint, for the bad-input tests."""

from __future__ import annotations

import copy
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


class _RunsCode:
    """Unpickling this would call os.system: a checkpoint holding it must be refused unopened."""

    def __reduce__(self) -> tuple:
        import os

        return (os.system, ("echo pwned",))


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edited(checkpoint: dict[str, Any]) -> dict[str, Any]:
        checkpoint = copy.deepcopy(checkpoint)
        change(checkpoint)
        return checkpoint

    return edited


def _hparam(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda c: c["hyper_parameters"].__setitem__(key, value)


# name -> how the checkpoint's contents are changed (saved with torch.save).
EDITS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "negative-layers": _edit(_hparam("num_layers", -1)),
    "unknown-hparam": _edit(_hparam("colour", "blue")),
    "string-hidden-size": _edit(_hparam("hidden_size", "big")),
    "huge-hidden-size": _edit(_hparam("hidden_size", 6000)),
    "hparams-a-list": _edit(lambda c: c.__setitem__("hyper_parameters", [1, 2, 3])),
    "missing-weight": _edit(lambda c: c["state_dict"].pop(next(iter(c["state_dict"])))),
    "extra-weight": _edit(lambda c: c["state_dict"].__setitem__("extra.weight", torch.zeros(2))),
    "format-a-string": _edit(lambda c: c["studio"].__setitem__("format", "1")),
    "format-from-the-future": _edit(lambda c: c["studio"].__setitem__("format", 99)),
    "task-unknown": _edit(lambda c: c["studio"].__setitem__("task", "painter")),
    "codec-a-list": _edit(lambda c: c["studio"].__setitem__("codec", ["text"])),
    "codec-without-tokenizer": _edit(lambda c: c["studio"]["codec"].pop("tokenizer")),
    "codec-kind-unknown": _edit(lambda c: c["studio"]["codec"].__setitem__("kind", "smell")),
    "studio-entry-a-string": _edit(lambda c: c.__setitem__("studio", "yes")),
    "state-dict-of-strings": _edit(lambda c: c.__setitem__("state_dict", {"a": "b"})),
}


def write_bad_checkpoints(good: Path, folder: Path) -> dict[str, Path]:
    """Every variant beside the good checkpoint's contents: edited ones, and broken, foreign and hostile files."""
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = torch.load(good, map_location="cpu", weights_only=True)
    paths: dict[str, Path] = {}
    for name, edit in EDITS.items():
        paths[name] = folder / f"{name}.ckpt"
        torch.save(edit(checkpoint), paths[name])
    data = good.read_bytes()
    raw = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "text-file": b"these are not the weights you are looking for\n",
    }
    for name, content in raw.items():
        paths[name] = folder / f"{name}.ckpt"
        paths[name].write_bytes(content)
    paths["malicious"] = folder / "malicious.ckpt"
    torch.save({"state_dict": _RunsCode(), "studio": {}}, paths["malicious"])
    paths["foreign"] = folder / "foreign.ckpt"
    torch.save({"weights": torch.zeros(3)}, paths["foreign"])
    paths["a-folder"] = folder / "folder.ckpt"
    paths["a-folder"].mkdir(exist_ok=True)
    return paths


def write_inflating_checkpoint(good: Path, path: Path, inflated: int) -> Path:
    """The good checkpoint with one more tensor whose record is deflated: a small file that `torch.load` would
    inflate to `inflated` bytes (a zip bomb; its directory declares the size, as a zip's must)."""
    mark = 70_001  # a tensor size found nowhere else in the pickle: its storage size and shape are rewritten
    checkpoint = torch.load(good, map_location="cpu", weights_only=True)
    checkpoint["state_dict"]["ballast"] = torch.zeros(mark)
    plain = path.with_suffix(".plain")
    torch.save(checkpoint, plain)
    old, new = b"J" + struct.pack("<i", mark), b"J" + struct.pack("<i", inflated // 4)
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("data.pkl"):
                assert data.count(old) == 2  # the storage's size and the tensor's shape
                bomb.writestr(info.filename, data.replace(old, new))
            elif info.file_size == 4 * mark:
                with bomb.open(info.filename, "w", force_zip64=True) as record:
                    zeros = bytes(1 << 20)
                    for _ in range(inflated // len(zeros)):
                        record.write(zeros)
            else:
                bomb.writestr(info.filename, data)
    plain.unlink()
    return path
