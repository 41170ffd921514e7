"""The contract between a data module and `studio fit`: what the command asks of every Studio data module.

The command builds the data module first and asks it for `model_dims()`, the model arguments the data
decides (vocabulary size, feature and label counts, whether batches are contiguous streams). It then
builds the model and hands the model's settings back through `configure_for_model`, so the data can
follow them (e.g. CTC's frames per label) without ever reaching into the model at run time. Every
checkpoint carries `codec`, so sampling needs neither config nor data.

Before any of that, the command calls `prepare_store()`: the data's store is built into the cache
then, in every process of a distributed run, before the Trainer and its process group exist. One
process builds it under the store's lock while the others wait on that lock (not at a collective
with a time-out), then all map the same files; `prepare_data` and `setup` find it ready.
`studio prepare` calls only `prepare_store()`, to build the store ahead of a run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Optional

import lightning as L

from studio.codecs import Codec
from studio.errors import StudioError


@dataclass(frozen=True)
class PreparedStore:
    """A data module's prepared store: what it is, where, how big, and whether this call built it."""

    kind: str  # e.g. "MIDI store"
    folder: Path
    size: int  # bytes on disk
    contents: str  # what it holds, e.g. "120 pieces, 1,234,567 events"
    built: bool  # False: it was prepared already (by an earlier run, or by another process meanwhile)
    cache: Path  # the cache folder it lives in (STUDIO_CACHE for the runs that should map it)


def folder_size(folder: Path) -> int:
    """Bytes of every file under `folder`."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(OSError):  # removed meanwhile (a shard dropped by a newer preparation)
                total += os.stat(os.path.join(root, name)).st_size
    return total


class BatchShape(NamedTuple):
    """The largest batch a run steps through: its rows and time steps, and the data settings that set them."""

    rows: int
    steps: int
    settings: tuple[str, str]  # e.g. ("batch_size", "seq_len"): what to lower, as --data.init_args.<name>


class StudioDataModule(L.LightningDataModule):
    """A LightningDataModule that `studio fit` can pair with a Studio model."""

    @property
    def codec(self) -> Codec:
        """The codec of this data (it travels inside every checkpoint)."""
        raise NotImplementedError

    def prepare_store(self) -> Optional[PreparedStore]:
        """Build the data's store into the cache unless it is there (under its lock), map it, and say what it is.

        `studio fit` calls this in every process before the Trainer exists; data without a store returns None.
        """
        return None

    def model_dims(self) -> dict[str, Any]:
        """Model constructor arguments that the data decides; the command sets them on the model."""
        raise NotImplementedError

    def batch_shape(self) -> Optional[BatchShape]:
        """The largest training or validation batch (rows x steps), known once the store is prepared, so that
        `studio fit` can estimate a step's memory before building anything; None when the data cannot tell."""
        return None

    def configure_for_model(self, settings: Mapping[str, Any]) -> None:
        """Take the model's settings (its hyper-parameters) into account before `setup`; by default nothing to do."""

    def held_out(self, split: str) -> Iterator[Any]:
        """The labelled examples of `split` ("val" or "test") as `studio evaluate --split` scores them."""
        raise StudioError(
            f"{type(self).__name__} cannot hand its {split} split to `studio evaluate`: pass --data instead"
        )
