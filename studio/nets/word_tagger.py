"""WordTaggerNet: a label per word of a sentence (part of speech, chunk, entity), with a bidirectional RNN.

word embedding ++ characters (a convolution over each word's characters, max-pooled, so unseen words
still have a shape) -> bidirectional RNN/GRU/LSTM stack -> a softmax over the tags at every word.
Padding never reaches a real word.
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
from torch import nn

from studio.errors import StudioError
from studio.nets.checks import OPTIMIZER_SETTINGS, check_recurrent_settings, check_whole
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding


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


class WordTaggerNet(nn.Module):
    """Bidirectional recurrent tagger over words and their characters."""

    # Stored settings of its training (its LightningModule takes them too) that the network leaves aside.
    training_settings: ClassVar[frozenset[str]] = OPTIMIZER_SETTINGS

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
    ) -> None:
        """`num_words`, `num_chars` and `labels` (the tag names) come from the data; `char_filters` 0 turns characters off."""
        super().__init__()
        if num_words is None or num_chars is None or not labels:
            raise StudioError(
                "num_words, num_chars and labels are not set: they come from the data module (run through `studio fit`)"
            )
        check_recurrent_settings(hidden_size, num_layers, dropout)
        check_whole("embedding_dim", embedding_dim)
        check_whole("char_dim", char_dim)
        check_whole("char_filters", char_filters, 0, " (0: no characters)")
        self.embed = nn.Embedding(num_words, embedding_dim, padding_idx=0)
        self.chars = CharacterFeatures(num_chars, char_dim, char_filters) if char_filters else None
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(embedding_dim + char_filters, hidden_size, num_layers, cell, dropout, bidirectional)
        self.head = nn.Linear(self.rnn.output_size, len(labels))

    def forward(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Tag logits [B, T, tags] of a padded batch."""
        x = self.embed(words)
        if self.chars is not None:
            x = torch.cat((x, self.chars(chars)), dim=-1)
        hidden = run_over_padding(self.rnn, self.dropout(x), lengths)
        return self.head(self.dropout(hidden))

    @torch.no_grad()
    def tag_ids(self, words: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """The likeliest tag id of every real word of each sentence."""
        best = self(words, chars, lengths).argmax(-1).cpu().tolist()
        return [row[: int(n)] for row, n in zip(best, lengths.cpu().tolist())]
