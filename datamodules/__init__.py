"""LightningDataModules: each turns a corpus into batches through a codec from `studio.codecs`."""

from datamodules.text import TextDataModule

__all__ = ["TextDataModule"]
