"""TextSampleLogger: while a text model trains, read what it writes (a W&B table of samples)."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.loggers import WandbLogger

from studio.codecs.text import TextCodec
from studio.codecs.text_statistics import distinct_n, mean_word_length
from studio.errors import StudioError
from studio.generation.sampling import SamplingSettings
from studio.generation.text import sample_text
from studio.training.metrics_file import append_metrics


class TextSampleLogger(L.Callback):
    """Every `every_n_steps`, generates text on rank zero and logs it as a W&B table (and to the console log)."""

    def __init__(
        self,
        every_n_steps: int = 200,
        num_samples: int = 4,
        length: int = 200,
        prompt: str = "\n",
        temperature: float = 0.8,
        seed: int = 0,
    ) -> None:
        self.every_n_steps = every_n_steps
        self.num_samples, self.length, self.prompt = num_samples, length, prompt
        self.settings = SamplingSettings(temperature=temperature)
        self.seed = seed
        self.logged: list[tuple[int, str]] = []

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A prompt the vocabulary cannot spell is an error now, not after the first interval of training."""
        codec = getattr(trainer.datamodule, "codec", None)
        unknown = codec.unknown_characters(self.prompt) if isinstance(codec, TextCodec) else []
        if unknown:
            raise StudioError(
                f"TextSampleLogger's prompt has characters the corpus lacks ({''.join(unknown)!r}): "
                "change --trainer.callbacks.prompt"
            )

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Sample and log when the step count is a multiple of `every_n_steps`."""
        step = trainer.global_step
        codec = getattr(trainer.datamodule, "codec", None)
        if (
            self.every_n_steps <= 0
            or step % self.every_n_steps
            or not trainer.is_global_zero
            or not isinstance(codec, TextCodec)
        ):
            return
        # The same function as `studio sample` and the Python API, so the same seed gives the same text.
        texts = sample_text(pl_module, codec, self.prompt, self.length, self.num_samples, self.settings, self.seed)
        self.logged.extend((step, text) for text in texts)
        stats = {f"samples/distinct_{n}": distinct_n(texts, n) for n in (1, 2)}
        stats["samples/mean_word_length"] = mean_word_length(texts)
        for logger in trainer.loggers:
            logger.log_metrics(stats, step=step)
        append_metrics(trainer, stats)  # beside the losses, for the web studio
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_table("samples/text", columns=["step", "text"], data=[[s, t] for s, t in self.logged])
