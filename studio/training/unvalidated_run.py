"""A run that ends before its first validation says so in one line, and where its model is.

Lightning's own warning for it asks whether the model logs `val_loss` at all, which misleads: the
model does, but no validation ran (the first comes after an epoch, and a short run stops sooner).
`studio` quiets that warning and prints this line instead.
"""

from __future__ import annotations

import sys

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class UnvalidatedRunNote(L.Callback):
    """At the end of training, on rank zero: if the monitored metric never came, say why best.ckpt is missing."""

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Print the note when the checkpoint callback monitors a metric that no validation produced."""
        checkpoint = trainer.checkpoint_callback
        if not trainer.is_global_zero or not isinstance(checkpoint, ModelCheckpoint) or checkpoint.monitor is None:
            return
        if checkpoint.monitor in trainer.callback_metrics or checkpoint.best_model_path:
            return
        kept = "last.ckpt holds the model" if checkpoint.save_last else "no checkpoint was written"
        print(
            f"studio: the run ended at step {trainer.global_step}, before its first validation, so there is no "
            f"{checkpoint.filename or 'best'}.ckpt (the best {checkpoint.monitor}); {kept}. Validation runs after "
            "each epoch, or every N steps with --trainer.val_check_interval N",
            file=sys.stderr,
        )
