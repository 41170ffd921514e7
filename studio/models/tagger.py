"""SequenceTagger: per-step labels for a whole sequence (speech frames or tokens), trained framewise or with CTC.

input projection -> (optional frame stacking) -> bidirectional recurrent stack -> per-step classifier.
Padding never reaches a real step in the RNN (see `run_over_padding`) and is masked out of every
loss and metric.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from studio.codecs.speech import IGNORE_INDEX
from studio.codecs.speech.ctc import BLANK_ID, collapse, edit_distance, prefix_beam_search, runs
from studio.errors import StudioError
from studio.models.base import StudioModule, check_optimizer_settings, check_recurrent_settings
from studio.nn import RecurrentStack
from studio.nn.padding import run_over_padding

LOSSES = ("framewise", "ctc")
INPUT_KINDS = ("frames", "tokens")


class TaggingBatch(NamedTuple):
    """A padded batch: inputs [B, T, F] (or token ids [B, T]), their lengths, frame labels [B, T] and label sequences [B, S]."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    frame_labels: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor


class SequenceTagger(StudioModule):
    """Bidirectional RNN tagger: framewise cross-entropy or CTC over a label set with the blank at index 0."""

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
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.99),
        scheduler: str = "cosine",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.1,
    ) -> None:
        """`input_size` (features per frame, or vocabulary size for tokens) and `num_labels` come from the data."""
        super().__init__()
        if input_size is None or num_labels is None or input_size < 1 or num_labels < 2:
            raise StudioError(
                "input_size and num_labels are not set: they come from the data module (run through `studio fit`)"
            )
        if loss not in LOSSES:
            raise StudioError(f"unknown loss {loss!r}: choose one of {', '.join(LOSSES)}")
        if input_kind not in INPUT_KINDS:
            raise StudioError(f"unknown input_kind {input_kind!r}: choose one of {', '.join(INPUT_KINDS)}")
        if subsample < 1:
            raise StudioError(f"subsample={subsample} must be >= 1 (1 keeps every frame)")
        check_recurrent_settings(hidden_size, num_layers, dropout)
        if isinstance(projection_size, bool) or not isinstance(projection_size, int) or projection_size < 1:
            raise StudioError(f"--model.init_args.projection_size {projection_size!r} must be a whole number >= 1")
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        self.save_hyperparameters()
        if input_kind == "tokens":
            self.project: nn.Module = nn.Embedding(input_size, projection_size)
        else:
            self.project = nn.Sequential(nn.Linear(input_size, projection_size), nn.GELU())
        self.dropout = nn.Dropout(dropout)
        self.rnn = RecurrentStack(projection_size * subsample, hidden_size, num_layers, cell, dropout, bidirectional)
        self.head = nn.Linear(self.rnn.output_size, num_labels)
        self.ctc = nn.CTCLoss(blank=BLANK_ID, reduction="none", zero_infinity=True)
        for split in ("val", "test"):
            setattr(self, f"{split}_loss_mean", MeanMetric())
            setattr(self, f"{split}_frame_acc_mean", MeanMetric())
            setattr(self, f"{split}_edits", SumMetric())
            setattr(self, f"{split}_ref_labels", SumMetric())

    # -- the network -------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits [B, T', C] and output lengths [B] (T' = ceil(T / subsample)) for padded `inputs`."""
        x = self.project(inputs)
        x, lengths = stack_frames(x, lengths, self.hparams.subsample)
        hidden = run_over_padding(self.rnn, self.dropout(x), lengths)
        return self.head(self.dropout(hidden)), lengths

    # -- losses ------------------------------------------------------------------------------
    def item_losses(self, batch: TaggingBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-item summed loss [B] and its weight [B] (labelled frames or target labels), logits and output lengths."""
        batch = TaggingBatch(*batch)
        logits, out_lengths = self(batch.inputs, batch.lengths)
        if self.hparams.loss == "ctc":
            # log_softmax in float32: CTC's forward-backward sums underflow in half precision.
            log_probs = logits.float().log_softmax(-1).transpose(0, 1)
            nll = self.ctc(log_probs, batch.targets, out_lengths, batch.target_lengths)
            return nll, batch.target_lengths.to(nll.dtype), logits, out_lengths
        targets = self._step_labels(batch.frame_labels, out_lengths, logits.shape[1])
        nll = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none")
        return nll.sum(1), (targets != IGNORE_INDEX).sum(1).to(nll.dtype), logits, out_lengths

    def _step_labels(self, frame_labels: torch.Tensor, out_lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """The label of each output step (the centre frame of a stacked group), IGNORE_INDEX past each length."""
        k = self.hparams.subsample
        padded = F.pad(frame_labels, (0, steps * k - frame_labels.shape[1]), value=IGNORE_INDEX)
        labels = padded.view(padded.shape[0], steps, k)[:, :, k // 2].clone()
        past_end = torch.arange(steps, device=labels.device)[None, :] >= out_lengths.to(labels.device)[:, None]
        labels[past_end] = IGNORE_INDEX
        return labels

    def training_step(self, batch: TaggingBatch, batch_idx: int) -> torch.Tensor:
        """Mean loss per labelled frame (framewise) or per target label (CTC) over the batch."""
        losses, weights, _, _ = self.item_losses(batch)
        loss = losses.sum() / weights.sum().clamp_min(1)
        size = len(batch[1])
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    # -- evaluation --------------------------------------------------------------------------
    def validation_step(self, batch: TaggingBatch, batch_idx: int) -> None:
        """Accumulate loss, frame accuracy and label errors over the whole validation split."""
        self._evaluate("val", batch)

    def test_step(self, batch: TaggingBatch, batch_idx: int) -> None:
        """As validation, reported with the `test_` prefix."""
        self._evaluate("test", batch)

    def _evaluate(self, split: str, batch: TaggingBatch) -> None:
        batch = TaggingBatch(*batch)
        losses, weights, logits, out_lengths = self.item_losses(batch)
        getattr(self, f"{split}_loss_mean").update(losses.sum() / weights.sum().clamp_min(1), weight=weights.sum())
        if self.hparams.loss == "framewise":
            targets = self._step_labels(batch.frame_labels, out_lengths, logits.shape[1])
            labelled = targets != IGNORE_INDEX
            correct = (logits.argmax(-1) == targets) & labelled
            getattr(self, f"{split}_frame_acc_mean").update(
                correct.sum() / labelled.sum().clamp_min(1), weight=labelled.sum()
            )
        hypotheses = self.decode_logits(logits, out_lengths)
        references = [
            row[: int(n)] for row, n in zip(batch.targets.cpu().tolist(), batch.target_lengths.cpu().tolist())
        ]
        edits = sum(edit_distance(ref, hyp) for ref, hyp in zip(references, hypotheses))
        getattr(self, f"{split}_edits").update(torch.tensor(float(edits)))
        getattr(self, f"{split}_ref_labels").update(batch.target_lengths.sum().float())

    def on_validation_epoch_end(self) -> None:
        """Log val_loss, val_ler and (framewise) val_frame_acc, reduced across ranks."""
        self._log_eval("val")

    def on_test_epoch_end(self) -> None:
        """Log test_loss, test_ler and (framewise) test_frame_acc."""
        self._log_eval("test")

    def _log_eval(self, split: str) -> None:
        metrics = {
            name: getattr(self, f"{split}_{name}") for name in ("loss_mean", "frame_acc_mean", "edits", "ref_labels")
        }
        values = {"loss": metrics["loss_mean"].compute()}
        if self.hparams.loss == "framewise":
            values["frame_acc"] = metrics["frame_acc_mean"].compute()
        values["ler"] = metrics["edits"].compute() / metrics["ref_labels"].compute().clamp_min(1)
        self.log_evaluation(split, values)
        for metric in metrics.values():
            metric.reset()

    # -- inference ---------------------------------------------------------------------------
    def decode_logits(self, logits: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Greedy label sequences: CTC best path, or merged runs of framewise argmax."""
        return greedy_decode(logits, lengths, blank=BLANK_ID if self.hparams.loss == "ctc" else None)

    @torch.no_grad()
    def emissions(self, inputs: torch.Tensor, beam_width: int = 1) -> list[tuple[int, int, int]]:
        """(label, first frame, end frame) of one unbatched input [T, F]: merged runs, or CTC emissions (beam if > 1)."""
        lengths = torch.tensor([inputs.shape[0]], device=inputs.device)
        logits, out_lengths = self(inputs[None], lengths)
        k = self.hparams.subsample
        if self.hparams.loss == "ctc" and beam_width > 1:
            found = prefix_beam_search(
                logits[0, : int(out_lengths[0])].float().log_softmax(-1).cpu().numpy(), beam_width, BLANK_ID
            )
        else:
            path = best_paths(logits, out_lengths, exclude=None if self.hparams.loss == "ctc" else BLANK_ID)[0]
            found = runs(path, BLANK_ID if self.hparams.loss == "ctc" else None)
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
