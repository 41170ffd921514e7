"""What `--ckpt` may name: a checkpoint file, a model bundled with Studio, or a URL with its digest.

    checkpoints/<run>/last.ckpt                      a file
    lady-susan                                       a bundled model (`studio models` lists them)
    https://host/model.ckpt#sha256=<64 hex digits>   downloaded once into the cache, checked, then a file
    file:///data/model.ckpt                          the same, from a path (the digest is optional)

Bundles live in the package (`studio/bundles/<name>/model.ckpt` beside its `card.json`), so they install
with Studio and work offline. A downloaded checkpoint is kept as `<cache>/checkpoints/<stem>-<digest>/`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlsplit

from studio.downloads import Remote, fetch
from studio.errors import StudioError
from studio.io import cache_root

BUNDLES = Path(__file__).resolve().parents[1] / "bundles"
BUNDLE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# A shared checkpoint is a model, not a dataset: downloads past this are refused.
MAX_CHECKPOINT_BYTES = 4 * 1024**3
PathLike = Union[str, "os.PathLike[str]"]


def bundle_names() -> list[str]:
    """The bundled models, by name."""
    if not BUNDLES.is_dir():
        return []
    return sorted(p.name for p in BUNDLES.iterdir() if (p / "card.json").is_file() and (p / "model.ckpt").is_file())


def bundle_checkpoint(name: str) -> Path:
    """The checkpoint file of a bundled model."""
    return BUNDLES / name / "model.ckpt"


def model_card(name: str) -> dict[str, Any]:
    """A bundle's card: task, data, recipe, size and held-out figures."""
    if name not in bundle_names():
        raise StudioError(f"no bundled model {name!r}: {_bundles_hint()}")
    card: dict[str, Any] = json.loads((BUNDLES / name / "card.json").read_text(encoding="utf-8"))
    return card


def resolve_checkpoint(reference: PathLike) -> Path:
    """The checkpoint file `reference` names (a path, a bundle name, or a URL), fetched if it is a URL."""
    text = os.fspath(reference)
    if re.match(r"^(https?|file)://", text):
        return _download(text)
    path = Path(text).expanduser()
    if path.exists() or not BUNDLE_NAME.match(text):
        return path  # a path: what is wrong with it, if anything, reading it says
    if text in bundle_names():
        return bundle_checkpoint(text)
    raise StudioError(f"--ckpt {text} is neither a checkpoint file nor a bundled model: {_bundles_hint()}")


def _bundles_hint() -> str:
    names = bundle_names()
    bundled = f"the bundled models are {', '.join(names)}" if names else "no models are bundled with this install"
    return f"{bundled} (`studio models` describes them); or pass a file such as checkpoints/<run>/last.ckpt"


def _download(url: str) -> Path:
    """A checkpoint URL (`#sha256=<hex>` required for http and https) downloaded once into the cache."""
    parts = urlsplit(url)
    fragment = dict(item.partition("=")[::2] for item in parts.fragment.split("&") if item)
    digest = fragment.get("sha256", "").lower()
    if digest and not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise StudioError(f"{url}: #sha256= must give 64 hexadecimal digits (`sha256sum model.ckpt` prints them)")
    if parts.scheme != "file" and not digest:
        raise StudioError(
            f"{url} gives no digest: add #sha256=<its SHA-256> to the URL, so what is downloaded is checked"
        )
    if parts.scheme == "file" and not digest:
        return Path(unquote(parts.path))  # the user's own file, read where it is
    plain = parts._replace(fragment="").geturl()
    stem = re.sub(r"[^A-Za-z0-9._-]", "-", Path(unquote(parts.path)).stem or "model")[:40]
    folder = cache_root() / "checkpoints" / f"{stem}-{digest[:12]}"
    remote = Remote(plain, sha256=digest, max_bytes=MAX_CHECKPOINT_BYTES)
    return fetch(remote, folder / "model.ckpt", hint="--ckpt with a local copy")
