"""`studio evaluate --split test`: a run's own held-out examples, read by the data module its config names."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Optional

import yaml

from studio.errors import StudioError


def held_out_split(split: Optional[str], config: Optional[str], ckpt: str) -> dict[str, Any]:
    """The `held_out` and `held_out_name` of an evaluation request for `--split` (nothing without it)."""
    if split is None:
        return {}
    path = Path(config) if config else Path(ckpt).expanduser().parent / "config.yaml"
    if not path.is_file():
        raise StudioError(
            f"--split {split} reads the run's config, but {path} does not exist: pass --config checkpoints/<run>/config.yaml"
        )
    try:
        data = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("data") or {}
    except yaml.YAMLError as error:
        raise StudioError(
            f"{path} is not valid YAML ({str(error).splitlines()[0]}): pass the run's config.yaml"
        ) from None
    module = _data_module(data, path)
    records: Callable[[], Iterator[Any]] = lambda: module.held_out(split)
    return {"held_out": records, "held_out_name": f"the {split} split of {path}"}


def _data_module(data: dict[str, Any], path: Path) -> Any:
    """The data module a config's `data:` section names by class path, built with its settings."""
    class_path = data.get("class_path") if isinstance(data, dict) else None
    if not isinstance(class_path, str) or "." not in class_path:
        raise StudioError(f"{path} names no data module (data.class_path): pass the config.yaml `studio fit` wrote")
    module_name, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise StudioError(f"{path}: data module {class_path} does not exist in this Studio") from None
    return cls(**(data.get("init_args") or {}))
