"""TaggerNet: per-step labels for a whole sequence (speech frames or tokens), read framewise or as CTC.

input projection -> (optional frame stacking) -> bidirectional recurrent stack -> per-step classifier.
Padding never reaches a real step in the RNN (see `run_over_padding`).
"""

from __future__ import annotations

from typing import ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import nn

from studio.codecs.speech.ctc import BLANK_ID, collapse, prefix_beam_search, runs
from studio.codecs.speech.ngram import LabelNgram
from studio.errors import StudioError
from studio.nets.checks import OPTIMIZER_SETTINGS, check_choice, check_recurrent_settings, check_whole
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding

LOSSES = ("framewise", "ctc")
INPUT_KINDS = ("frames", "tokens")


class TaggerNet(nn.Module):
    """Bidirectional RNN tagger over a label set with the blank at index 0."""

    # Stored settings of its training (its LightningModule takes them too) that the network leaves aside.
    training_settings: ClassVar[frozenset[str]] = OPTIMIZER_SETTINGS

    def __init__(
        self,
        input_size: Optional[int] = None,
        num_labels: Optional[int] = None,
        input_kind: str = "frames",
        projection_size: int = 128,
        hidden_size: int = 256,
        num_layers: int = 3,
        cell: str = "lstm",
        dropout: float = 0.1,
        bidirectional: bool = True,
        loss: str = "framewise",
        subsample: int = 1,
    ) -> None:
        """`input_size` (features per frame, or vocabulary size for tokens) and `num_labels` come from the data.

        `loss` ("framewise" or "ctc") is what the outputs mean: a label per step, or CTC emissions.
        """
        super().__init__()
        if input_size is None or num_labels is None or input_size < 1 or num_labels < 2:
            raise StudioError(
                "input_size and num_labels are not set: they come from the data module (run through `studio fit`)"
            )
        check_choice("loss", loss, LOSSES)
        if input_kind not in INPUT_KINDS:
            raise StudioError(f"unknown input_kind {input_kind!r}: choose one of {', '.join(INPUT_KINDS)}")
        check_whole("subsample", subsample, 1, " (1 keeps every frame)")
        check_recurrent_settings(hidden_size, num_layers, dropout)
        check_whole("projection_size", projection_size)
        self.loss_kind, self.subsample = loss, subsample
        if input_kind == "tokens":
            self.project: nn.Module = nn.Embedding(input_size, projection_size)
        else:
            self.project = nn.Sequential(nn.Linear(input_size, projection_size), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(projection_size * subsample, hidden_size, num_layers, cell, dropout, bidirectional)
        self.head = nn.Linear(self.rnn.output_size, num_labels)

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, T', C] and output lengths [B] (T' = ceil(T / subsample)) for padded `inputs`."""
        x = self.project(inputs)
        x, lengths = stack_frames(x, lengths, self.subsample)
        hidden = run_over_padding(self.rnn, self.dropout(x), lengths)
        return self.head(self.dropout(hidden)), lengths

    def decode_logits(self, logits: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Greedy label sequences: CTC best path, or merged runs of framewise argmax."""
        return greedy_decode(logits, lengths, blank=BLANK_ID if self.loss_kind == "ctc" else None)

    @torch.no_grad()
    def emissions(
        self, inputs: torch.Tensor, beam_width: int = 1, lm: Optional[LabelNgram] = None, lm_weight: float = 0.0
    ) -> list[tuple[int, int, int]]:
        """(label, first frame, end frame) of one unbatched input [T, F]: merged runs, or CTC emissions (beam if > 1).

        In beam search, `lm` weighted by `lm_weight` scores the label sequences beside the acoustics.
        """
        lengths = torch.tensor([inputs.shape[0]], device=inputs.device)
        logits, out_lengths = self(inputs[None], lengths)
        k, ctc = self.subsample, self.loss_kind == "ctc"
        if ctc and beam_width > 1:
            found = prefix_beam_search(
                logits[0, : int(out_lengths[0])].float().log_softmax(-1).cpu().numpy(),
                beam_width,
                BLANK_ID,
                lm,
                lm_weight,
            )
        else:
            path = best_paths(logits, out_lengths, exclude=None if ctc else BLANK_ID)[0]
            found = runs(path, BLANK_ID if ctc else None)
        # Output steps back to input frames: step j covers frames j*k .. j*k+k-1.
        return [(label, start * k, min(end * k, inputs.shape[0])) for label, start, end in found]


def stack_frames(x: torch.Tensor, lengths: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate every `k` consecutive steps of `x` [B, T, F] into one [B, ceil(T/k), k*F]; lengths shrink to match."""
    if k == 1:
        return x, lengths
    steps = -(-x.shape[1] // k)
    # Zero every step past its length, so an item's last group is the same alone or in a padded batch.
    valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
    x = F.pad(x * valid[..., None].to(x.dtype), (0, 0, 0, steps * k - x.shape[1]))
    return x.reshape(x.shape[0], steps, k * x.shape[2]), torch.div(lengths + k - 1, k, rounding_mode="floor")


def best_paths(logits: torch.Tensor, lengths: torch.Tensor, exclude: Optional[int] = None) -> list[list[int]]:
    """Most likely label per step of each item of `logits` [B, T, C], cut at `lengths`; `exclude` is never chosen."""
    if exclude is not None:
        logits = logits.clone()
        logits[..., exclude] = float("-inf")
    best = logits.argmax(dim=-1).cpu().tolist()
    return [row[: int(n)] for row, n in zip(best, lengths.cpu().tolist())]


def greedy_decode(logits: torch.Tensor, lengths: torch.Tensor, blank: Optional[int] = 0) -> list[list[int]]:
    """Greedy label sequences of a batch: CTC best path (blank given) or merged framewise argmax (blank=None)."""
    # Framewise models never learn the blank class, but excluding it keeps a stray argmax from meaning "nothing".
    paths = best_paths(logits, lengths, exclude=0 if blank is None else None)
    return [collapse(path, blank) for path in paths]
