"""ClassCounts: a classifier's loss and right and wrong predictions over a whole split, summed across ranks."""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric


class ClassCounts(Metric):
    """The summed loss, and a confusion matrix (single-label) or per-class tp/fp/fn and exact matches (multi-label)."""

    full_state_update = False
    loss_sum: torch.Tensor
    items: torch.Tensor
    exact: torch.Tensor
    counts: torch.Tensor

    def __init__(self, num_classes: int, multi_label: bool) -> None:
        super().__init__()
        self.num_classes, self.multi_label = num_classes, multi_label
        self.add_state("loss_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("items", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("exact", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        shape = (num_classes, 3) if multi_label else (num_classes, num_classes)
        self.add_state("counts", default=torch.zeros(shape, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, losses: torch.Tensor, predicted: torch.Tensor, targets: torch.Tensor) -> None:  # type: ignore[override]
        """Add a batch: per-item losses [B], predictions and targets ([B] ids, or [B, C] 0/1 for multi-label)."""
        self.loss_sum += losses.detach().double().sum()
        self.items += len(losses)
        if self.multi_label:
            truth, guess = targets.long(), predicted.long()
            self.counts[:, 0] += (truth & guess).sum(0)
            self.counts[:, 1] += ((1 - truth) & guess).sum(0)
            self.counts[:, 2] += (truth & (1 - guess)).sum(0)
            self.exact += (truth == guess).all(-1).sum()
        else:
            flat = targets.long() * self.num_classes + predicted.long()
            self.counts += torch.bincount(flat, minlength=self.num_classes**2).view(self.num_classes, self.num_classes)
            self.exact += (targets.long() == predicted.long()).sum()

    def compute(self) -> torch.Tensor:
        """The mean loss per item."""
        return (self.loss_sum / self.items.clamp_min(1)).float()

    def summary(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mean loss, accuracy (exact matches) and macro-F1 (over the classes in the truth or the predictions)."""
        counts = self.counts.double()
        if self.multi_label:
            tp, fp, fn = counts[:, 0], counts[:, 1], counts[:, 2]
        else:
            tp = counts.diagonal()
            fp, fn = counts.sum(0) - tp, counts.sum(1) - tp
        f1 = 2 * tp / (2 * tp + fp + fn).clamp_min(1)
        occurs = (tp + fp + fn) > 0
        macro = f1[occurs].mean() if occurs.any() else torch.zeros((), dtype=torch.float64)
        accuracy = self.exact.double() / self.items.clamp_min(1)
        return self.compute(), accuracy.float(), macro.float()

    def as_numpy(self) -> np.ndarray:
        """The counts as an array (confusion matrix, or tp/fp/fn per class)."""
        return self.counts.detach().cpu().numpy().copy()
