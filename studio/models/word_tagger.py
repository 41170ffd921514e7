"""WordTagger: a label per word of a sentence (part of speech, chunk, entity), with a bidirectional RNN.

word embedding ++ characters (a convolution over each word's characters, max-pooled, so unseen words
still have a shape) -> bidirectional RNN/GRU/LSTM stack -> a softmax over the tags at every word.
Padding never reaches a real word. Validation reports token accuracy and, for BIO tags, span F1.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from studio.errors import StudioError
from studio.models.base import StudioModule, check_optimizer_settings, check_recurrent_settings
from studio.models.span_counts import SpanCounts
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding

IGNORE = -100


class WordBatch(NamedTuple):
    """A padded batch: word ids [B, T], character ids [B, T, L], lengths [B] and tag ids [B, T] (IGNORE past each end)."""

    words: torch.Tensor
    chars: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class CharacterFeatures(nn.Module):
    """Each word from its characters: embedded, convolved, max-pooled over the word's own characters."""

    def __init__(self, num_chars: int, dim: int, filters: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, dim, padding_idx=0)
        self.conv = nn.Conv1d(dim, filters, kernel_size=3, padding=1)

    def forward(self, chars: torch.Tensor) -> torch.Tensor:
        """[B, T, L] character ids -> [B, T, filters]."""
        b, t, length = chars.shape
        x = self.embed(chars.view(b * t, length)).transpose(1, 2)
        x = torch.relu(self.conv(x)).masked_fill((chars.view(b * t, 1, length) == 0), float("-inf"))
        pooled = x.amax(-1)
        return pooled.masked_fill(torch.isinf(pooled), 0.0).view(b, t, -1)


class WordTagger(StudioModule):
    """Bidirectional recurrent tagger over words and their characters."""

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
        super().__init__()
        if num_words is None or num_chars is None or not labels:
            raise StudioError(
                "num_words, num_chars and labels are not set: they come from the data module (run through `studio fit`)"
            )
        check_recurrent_settings(hidden_size, num_layers, dropout)
        for name, value in (("embedding_dim", embedding_dim), ("char_dim", char_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StudioError(f"--model.init_args.{name} {value!r} must be a whole number >= 1")
        if isinstance(char_filters, bool) or not isinstance(char_filters, int) or char_filters < 0:
            raise StudioError(
                f"--model.init_args.char_filters {char_filters!r} must be a whole number >= 0 (0: no characters)"
            )
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        self.save_hyperparameters()
        self.embed = nn.Embedding(num_words, embedding_dim, padding_idx=0)
        self.chars = CharacterFeatures(num_chars, char_dim, char_filters) if char_filters else None
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(embedding_dim + char_filters, hidden_size, num_layers, cell, dropout, bidirectional)
        self.head = nn.Linear(self.rnn.output_size, len(labels))
        for split in ("val", "test"):
            setattr(self, f"{split}_counts", SpanCounts(list(labels)))

    def forward(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag logits [B, T, tags] of a padded batch."""
        x = self.embed(words)
        if self.chars is not None:
            x = torch.cat((x, self.chars(chars)), dim=-1)
        hidden = run_over_padding(self.rnn, self.dropout(x), lengths)
        return self.head(self.dropout(hidden))

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

    @torch.no_grad()
    def tag_ids(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """The likeliest tag id of every real word of each sentence."""
        best = self(words, chars, lengths).argmax(-1).cpu().tolist()
        return [row[: int(n)] for row, n in zip(best, lengths.cpu().tolist())]
