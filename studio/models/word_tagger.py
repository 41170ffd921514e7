"""WordTagger: the word tagging network of `studio.nets.word_tagger`, trained; validation reports token accuracy and, for BIO tags, span F1."""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F

from studio.models.base import StudioModule, check_optimizer_settings
from studio.models.span_counts import SpanCounts
from studio.nets.word_tagger import WordTaggerNet

IGNORE = -100


class WordBatch(NamedTuple):
    """A padded batch: word ids [B, T], character ids [B, T, L], lengths [B] and tag ids [B, T] (IGNORE past each end)."""

    words: torch.Tensor
    chars: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class WordTagger(WordTaggerNet, StudioModule):
    """`WordTaggerNet` trained by cross-entropy per word, with AdamW."""

    def __init__(
        self,
        num_words: Optional[int] = None,
        num_chars: Optional[int] = None,
        labels: Optional[list[str]] = None,
        embedding_dim: int = 100,
        char_dim: int = 25,
        char_filters: int = 50,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        dropout: float = 0.3,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.99),
        scheduler: str = "cosine",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.1,
    ) -> None:
        """`num_words`, `num_chars` and `labels` (the tag names) come from the data; `char_filters` 0 turns characters off."""
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        super().__init__(
            num_words=num_words,
            num_chars=num_chars,
            labels=labels,
            embedding_dim=embedding_dim,
            char_dim=char_dim,
            char_filters=char_filters,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            bidirectional=bidirectional,
            dropout=dropout,
        )
        self.save_hyperparameters()
        for split in ("val", "test"):
            setattr(self, f"{split}_counts", SpanCounts(list(labels or ())))

    def _loss(self, batch: WordBatch) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch.words, batch.chars, batch.lengths)
        loss = F.cross_entropy(logits.float().transpose(1, 2), batch.labels, ignore_index=IGNORE)
        return loss, logits

    def training_step(self, batch: WordBatch, batch_idx: int) -> torch.Tensor:
        """Mean cross-entropy per word."""
        batch = WordBatch(*batch)
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch.lengths))
        return loss

    def validation_step(self, batch: WordBatch, batch_idx: int) -> None:
        """Accumulate loss, right words and (BIO tags) right spans over the split."""
        self._evaluate("val", batch)

    def test_step(self, batch: WordBatch, batch_idx: int) -> None:
        """As validation, reported with the `test_` prefix."""
        self._evaluate("test", batch)

    def _evaluate(self, split: str, batch: WordBatch) -> None:
        batch = WordBatch(*batch)
        loss, logits = self._loss(batch)
        getattr(self, f"{split}_counts").update(loss, logits.argmax(-1), batch.labels, batch.lengths)

    def on_validation_epoch_end(self) -> None:
        """Log val_loss, val_acc and (BIO tags) val_span_f1, reduced across ranks."""
        self._log_eval("val")

    def on_test_epoch_end(self) -> None:
        """Log test_loss, test_acc and (BIO tags) test_span_f1."""
        self._log_eval("test")

    def _log_eval(self, split: str) -> None:
        counts: SpanCounts = getattr(self, f"{split}_counts")
        self.log_evaluation(split, counts.summary())
        counts.reset()
