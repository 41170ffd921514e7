"""SequenceClassifier: one label per sequence (many-to-one), from token ids or audio frames.

embedding (or a frame projection) -> RNN/GRU/LSTM stack, optionally bidirectional -> pooling (last
state, mean over real steps, or attention) -> a softmax head, or a sigmoid head (one logit for two
classes, as Keras' Dense(1, sigmoid); one per class for multi-label). Padding never reaches a real
step nor the pooled vector, so a sequence gets the same logits however much it is padded.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from studio.errors import StudioError
from studio.models.base import StudioModule, check_optimizer_settings, check_recurrent_settings
from studio.models.class_counts import ClassCounts
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding
from studio.nn.pooling import SequencePooling

HEADS = ("softmax", "sigmoid")
INPUT_KINDS = ("tokens", "frames")


class ClassBatch(NamedTuple):
    """A padded batch: inputs [B, T] (token ids, 0 = padding) or [B, T, F], lengths [B], targets [B] or [B, C]."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor


class SequenceClassifier(StudioModule):
    """Recurrent sequence classifier: softmax over classes, or sigmoid (binary or multi-label)."""

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
        super().__init__()
        if input_size is None or num_classes is None or input_size < 1 or num_classes < 1:
            raise StudioError(
                "input_size and num_classes are not set: they come from the data module (run through `studio fit`)"
            )
        if input_kind not in INPUT_KINDS:
            raise StudioError(f"unknown input_kind {input_kind!r}: choose one of {', '.join(INPUT_KINDS)}")
        if head not in HEADS:
            raise StudioError(f"--model.init_args.head {head!r} is unknown: choose softmax or sigmoid")
        if multi_label and head != "sigmoid":
            raise StudioError("multi-label data needs --model.init_args.head sigmoid (each class on its own)")
        check_recurrent_settings(hidden_size, num_layers, dropout)
        if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
            raise StudioError(f"--model.init_args.embedding_dim {embedding_dim!r} must be a whole number >= 1")
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        self.save_hyperparameters()
        if input_kind == "tokens":
            self.embed: nn.Module = nn.Embedding(input_size, embedding_dim, padding_idx=0)
        else:
            self.embed = nn.Sequential(nn.Linear(input_size, embedding_dim), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(embedding_dim, hidden_size, num_layers, cell, dropout, bidirectional)
        self.pool = SequencePooling(pooling, self.rnn.output_size, 2 if bidirectional else 1)
        # Two classes through a sigmoid need one logit (the second class's), as Keras' Dense(1, sigmoid).
        self.outputs = 1 if head == "sigmoid" and num_classes == 2 and not multi_label else num_classes
        self.head = nn.Linear(self.rnn.output_size, self.outputs)
        for split in ("val", "test"):
            setattr(self, f"{split}_counts", ClassCounts(num_classes, multi_label))

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [B, outputs] of a padded batch."""
        x = self.dropout(self.embed(inputs))
        hidden = run_over_padding(self.rnn, x, lengths)
        return self.head(self.dropout(self.pool(hidden, lengths)))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, num_classes] probabilities: softmax, or each class's sigmoid (two-class sigmoid: 1-p, p)."""
        logits = logits.float()
        if self.hparams.head == "softmax":
            return logits.softmax(-1)
        p = logits.sigmoid()
        return torch.cat((1 - p, p), dim=-1) if self.outputs == 1 else p

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-item loss [B]: cross-entropy, or binary cross-entropy summed over the sigmoid outputs."""
        logits = logits.float()
        if self.hparams.head == "softmax":
            return F.cross_entropy(logits, targets.long(), reduction="none")
        if self.outputs == 1:
            return F.binary_cross_entropy_with_logits(logits[:, 0], targets.float(), reduction="none")
        return F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").sum(-1)

    def predict_ids(self, logits: torch.Tensor) -> torch.Tensor:
        """Predicted class ids [B] (single-label) or a [B, C] 0/1 matrix (multi-label, p >= 0.5)."""
        probabilities = self.probabilities(logits)
        return (probabilities >= 0.5).long() if self.hparams.multi_label else probabilities.argmax(-1)

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
