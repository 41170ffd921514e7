"""ClassifierNet: one label per sequence (many-to-one), from token ids or audio frames.

embedding (or a frame projection) -> RNN/GRU/LSTM stack, optionally bidirectional -> pooling (last
state, mean over real steps, or attention) -> a softmax head, or a sigmoid head (one logit for two
classes, as Keras' Dense(1, sigmoid); one per class for multi-label). Padding never reaches a real
step nor the pooled vector, so a sequence gets the same logits however much it is padded.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from studio.errors import StudioError
from studio.nets.checks import OPTIMIZER_SETTINGS, check_choice, check_recurrent_settings, check_whole
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding
from studio.nn.pooling import SequencePooling

HEADS = ("softmax", "sigmoid")
INPUT_KINDS = ("tokens", "frames")


class ClassifierNet(nn.Module):
    """Recurrent sequence classifier: softmax over classes, or sigmoid (binary or multi-label)."""

    # Stored settings of its training (its LightningModule takes them too) that the network leaves aside.
    training_settings: ClassVar[frozenset[str]] = OPTIMIZER_SETTINGS

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
    ) -> None:
        """`input_size` (vocabulary or features per frame), `num_classes`, `input_kind` and `multi_label` come from the data."""
        super().__init__()
        if input_size is None or num_classes is None or input_size < 1 or num_classes < 1:
            raise StudioError(
                "input_size and num_classes are not set: they come from the data module (run through `studio fit`)"
            )
        if input_kind not in INPUT_KINDS:
            raise StudioError(f"unknown input_kind {input_kind!r}: choose one of {', '.join(INPUT_KINDS)}")
        check_choice("head", head, HEADS)
        if multi_label and head != "sigmoid":
            raise StudioError("multi-label data needs --model.init_args.head sigmoid (each class on its own)")
        check_recurrent_settings(hidden_size, num_layers, dropout)
        check_whole("embedding_dim", embedding_dim)
        self.head_kind, self.multi_label = head, multi_label
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

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [B, outputs] of a padded batch."""
        x = self.dropout(self.embed(inputs))
        hidden = run_over_padding(self.rnn, x, lengths)
        return self.head(self.dropout(self.pool(hidden, lengths)))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """[B, num_classes] probabilities: softmax, or each class's sigmoid (two-class sigmoid: 1-p, p)."""
        logits = logits.float()
        if self.head_kind == "softmax":
            return logits.softmax(-1)
        p = logits.sigmoid()
        return torch.cat((1 - p, p), dim=-1) if self.outputs == 1 else p

    def predict_ids(self, logits: torch.Tensor) -> torch.Tensor:
        """Predicted class ids [B] (single-label) or a [B, C] 0/1 matrix (multi-label, p >= 0.5)."""
        probabilities = self.probabilities(logits)
        return (probabilities >= 0.5).long() if self.multi_label else probabilities.argmax(-1)
