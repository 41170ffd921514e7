"""SequenceTagger: the per-step tagging network of `studio.nets.tagger`, trained framewise or with CTC.

Padding is masked out of every loss and metric.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric, SumMetric

from studio.codecs.speech import IGNORE_INDEX
from studio.codecs.speech.ctc import BLANK_ID, edit_distance
from studio.models.base import StudioModule, check_optimizer_settings
from studio.nets.tagger import TaggerNet


class TaggingBatch(NamedTuple):
    """A padded batch: inputs [B, T, F] (or token ids [B, T]), their lengths, frame labels [B, T] and label sequences [B, S]."""

    inputs: torch.Tensor
    lengths: torch.Tensor
    frame_labels: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor


class SequenceTagger(TaggerNet, StudioModule):
    """`TaggerNet` trained framewise (cross-entropy per labelled frame) or with CTC, with AdamW."""

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
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        super().__init__(
            input_size=input_size,
            num_labels=num_labels,
            input_kind=input_kind,
            projection_size=projection_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            dropout=dropout,
            bidirectional=bidirectional,
            loss=loss,
            subsample=subsample,
        )
        self.save_hyperparameters()
        self.ctc = nn.CTCLoss(blank=BLANK_ID, reduction="none", zero_infinity=True)
        for split in ("val", "test"):
            setattr(self, f"{split}_loss_mean", MeanMetric())
            setattr(self, f"{split}_frame_acc_mean", MeanMetric())
            setattr(self, f"{split}_edits", SumMetric())
            setattr(self, f"{split}_ref_labels", SumMetric())

    # -- losses ------------------------------------------------------------------------------
    def item_losses(self, batch: TaggingBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-item summed loss [B] and its weight [B] (labelled frames or target labels), logits and output lengths."""
        batch = TaggingBatch(*batch)
        logits, out_lengths = self(batch.inputs, batch.lengths)
        if self.loss_kind == "ctc":
            # log_softmax in float32: CTC's forward-backward sums underflow in half precision.
            log_probs = logits.float().log_softmax(-1).transpose(0, 1)
            nll = self.ctc(log_probs, batch.targets, out_lengths, batch.target_lengths)
            return nll, batch.target_lengths.to(nll.dtype), logits, out_lengths
        targets = self._step_labels(batch.frame_labels, out_lengths, logits.shape[1])
        nll = F.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=IGNORE_INDEX, reduction="none")
        return nll.sum(1), (targets != IGNORE_INDEX).sum(1).to(nll.dtype), logits, out_lengths

    def _step_labels(self, frame_labels: torch.Tensor, out_lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """The label of each output step (the centre frame of a stacked group), IGNORE_INDEX past each length."""
        k = self.subsample
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
        if self.loss_kind == "framewise":
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
        if self.loss_kind == "framewise":
            values["frame_acc"] = metrics["frame_acc_mean"].compute()
        values["ler"] = metrics["edits"].compute() / metrics["ref_labels"].compute().clamp_min(1)
        self.log_evaluation(split, values)
        for metric in metrics.values():
            metric.reset()
