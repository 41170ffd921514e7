"""ConfusionLogger: after each validation of a classifier, its confusion matrix as a W&B table."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_only


class ConfusionLogger(L.Callback):
    """Logs `val/confusion` (true class, predicted class, count) to every W&B logger after each validation.

    Accuracy and macro-F1 are logged by the classifier itself (`val_acc`, `val_macro_f1`); this adds the
    whole matrix, so a run shows which classes it mixes up as it trains.
    """

    @rank_zero_only
    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Log the matrix the classifier counted (the sanity check's is left out)."""
        counts = getattr(pl_module, "last_counts", None)
        codec = getattr(trainer.datamodule, "codec", None)
        loggers = [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]
        if trainer.sanity_checking or counts is None or codec is None or codec.multi_label or not loggers:
            return
        labels = list(codec.labels)
        rows = [[labels[t], labels[p], int(counts[t, p])] for t in range(len(labels)) for p in range(len(labels))]
        for logger in loggers:
            logger.log_table(
                "val/confusion", columns=["true", "predicted", "count"], data=rows, step=trainer.global_step
            )
