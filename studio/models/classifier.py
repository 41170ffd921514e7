"""SequenceClassifier: the many-to-one network of `studio.nets.classifier`, trained (losses, accuracy, macro-F1)."""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from studio.models.base import StudioModule, check_optimizer_settings
from studio.models.class_counts import ClassCounts
from studio.nets.classifier import ClassifierNet


class ClassBatch(NamedTuple):
    """A padded batch: inputs [B, T] (token ids, 0 = padding) or [B, T, F], lengths [B], targets [B] or [B, C]."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor


class SequenceClassifier(ClassifierNet, StudioModule):
    """`ClassifierNet` trained by cross-entropy (softmax) or binary cross-entropy (sigmoid), with AdamW."""

    def __init__(
        self,
        input_size: Optional[int] = None,
        num_classes: Optional[int] = None,
        input_kind: str = "tokens",
        multi_label: bool = False,
        embedding_dim: int = 32,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: str = "rnn_tanh",
        bidirectional: bool = False,
        pooling: str = "last",
        head: str = "softmax",
        dropout: float = 0.0,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        scheduler: str = "constant",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.1,
    ) -> None:
        """`input_size` (vocabulary or features per frame), `num_classes`, `input_kind` and `multi_label` come from the data."""
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        super().__init__(
            input_size=input_size,
            num_classes=num_classes,
            input_kind=input_kind,
            multi_label=multi_label,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            bidirectional=bidirectional,
            pooling=pooling,
            head=head,
            dropout=dropout,
        )
        self.save_hyperparameters()
        for split in ("val", "test"):
            setattr(self, f"{split}_counts", ClassCounts(int(self.hparams.num_classes), multi_label))

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-item loss [B]: cross-entropy, or binary cross-entropy summed over the sigmoid outputs."""
        logits = logits.float()
        if self.head_kind == "softmax":
            return F.cross_entropy(logits, targets.long(), reduction="none")
        if self.outputs == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
        return F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").sum(-1)

    def training_step(self, batch: ClassBatch, batch_idx: int) -> torch.Tensor:
        """Mean loss over the batch."""
        batch = ClassBatch(*batch)
        loss = self.loss(self(batch.inputs, batch.lengths), batch.targets).mean()
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.lengths))
        return loss

    def validation_step(self, batch: ClassBatch, batch_idx: int) -> None:
        """Accumulate loss and the counts of right and wrong predictions over the split."""
        self._evaluate("val", batch)

    def test_step(self, batch: ClassBatch, batch_idx: int) -> None:
        """As validation, reported with the `test_` prefix."""
        self._evaluate("test", batch)

    def _evaluate(self, split: str, batch: ClassBatch) -> None:
        batch = ClassBatch(*batch)
        logits = self(batch.inputs, batch.lengths)
        getattr(self, f"{split}_counts").update(
            self.loss(logits, batch.targets), self.predict_ids(logits), batch.targets
        )

    def on_validation_epoch_end(self) -> None:
        """Log val_loss, val_acc and val_macro_f1, reduced across ranks."""
        self._log_eval("val")

    def on_test_epoch_end(self) -> None:
        """Log test_loss, test_acc and test_macro_f1."""
        self._log_eval("test")

    def _log_eval(self, split: str) -> None:
        counts: ClassCounts = getattr(self, f"{split}_counts")
        loss, accuracy, macro_f1 = counts.summary()
        self.log_evaluation(split, {"loss": loss, "acc": accuracy, "macro_f1": macro_f1})
        self.last_counts = counts.as_numpy()  # for the report callback, before the reset
        counts.reset()
