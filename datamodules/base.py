"""The contract between a data module and `studio fit`: what the command asks of every Studio data module.

The command builds the data module first and asks it for `model_dims()`, the model arguments the data
decides (vocabulary size, feature and label counts, whether batches are contiguous streams). It then
builds the model and hands the model's settings back through `configure_for_model`, so the data can
follow them (e.g. CTC's frames per label) without ever reaching into the model at run time. Every
checkpoint carries `codec`, so sampling needs neither config nor data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import lightning as L

from studio.codecs import Codec
from studio.errors import StudioError


class StudioDataModule(L.LightningDataModule):
    """A LightningDataModule that `studio fit` can pair with a Studio model."""

    @property
    def codec(self) -> Codec:
        """The codec of this data (it travels inside every checkpoint)."""
        raise NotImplementedError

    def model_dims(self) -> dict[str, Any]:
        """Model constructor arguments that the data decides; the command sets them on the model."""
        raise NotImplementedError

    def configure_for_model(self, settings: Mapping[str, Any]) -> None:
        """Take the model's settings (its hyper-parameters) into account before `setup`; by default nothing to do."""

    def held_out(self, split: str) -> Iterator[Any]:
        """The labelled examples of `split` ("val" or "test") as `studio evaluate --split` scores them."""
        raise StudioError(
            f"{type(self).__name__} cannot hand its {split} split to `studio evaluate`: pass --data instead"
        )
