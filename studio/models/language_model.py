"""RecurrentLanguageModel: next-token prediction over token ids (text characters or MIDI events).

Training is stateful truncated BPTT: each batch row continues the previous batch's row, so the
hidden state is carried across chunks and detached between them (reset every epoch).
"""

from __future__ import annotations

import math
from typing import Any, Optional

import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torchmetrics import MeanMetric

from studio.models.base import StudioModule, check_optimizer_settings
from studio.models.late_dropout import DROPOUT_METRIC, OverfittingWatch, check_dropout_from
from studio.nets.language_model import LanguageModelNet
from studio.nn import State, detach_state
from studio.nn.state import state_as_list, state_from_list

LN2 = math.log(2.0)
Batch = tuple[torch.Tensor, ...]  # (inputs, targets) or (inputs, targets, controls)


class RecurrentLanguageModel(LanguageModelNet, StudioModule):
    """`LanguageModelNet` trained by next-token cross-entropy, with AdamW and its schedule."""

    def __init__(
        self,
        vocab_size: Optional[int] = None,
        embedding_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.0,
        dropout_from: str = "start",
        tie_weights: bool = False,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.99),
        scheduler: str = "cosine",
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.1,
        stateful: bool = True,
        control_dim: int = 0,
        line_positions: int = 0,
        line_break_id: Optional[int] = None,
    ) -> None:
        """`vocab_size` (and `control_dim`) come from the data (the CLI fills them in).

        `stateful` carries the state from each training batch into the next (contiguous streams,
        as for text); turn it off when batches hold independent windows (as for MIDI).
        `control_dim` > 0 adds a control vector beside each input token (MIDI note density and
        pitch-class histogram, as in Performance RNN); batches then hold (inputs, targets, controls).
        `line_positions` > 0 adds the column of each character (characters since the last line break,
        up to `line_positions` - 1) to its embedding, so hard-wrapped text keeps its line lengths; it
        needs `line_break_id`, the id of the line break, which the data fills in for a character
        vocabulary that has one (otherwise the column input stays off).
        `dropout_from` is "start" (`dropout` from the first step) or "overfitting": no dropout until a
        validation loss is above the best before it, then `dropout` to the end of the run (see
        `studio.models.late_dropout`).
        """
        check_dropout_from(dropout_from, dropout)
        check_optimizer_settings(lr, weight_decay, betas, scheduler, warmup_steps, min_lr_ratio)
        super().__init__(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
            num_layers=num_layers,
            cell=cell,
            dropout=dropout if dropout_from == "start" else 0.0,
            tie_weights=tie_weights,
            control_dim=control_dim,
            line_positions=line_positions,
            line_break_id=line_break_id,
        )
        self.save_hyperparameters()
        self.overfitting = OverfittingWatch()
        self._train_state: Optional[State] = None
        self._eval_state: Optional[State] = None
        self.val_nll = MeanMetric()
        self.test_nll = MeanMetric()

    def _nll(self, batch: Batch, state: Optional[State]) -> tuple[torch.Tensor, Optional[State]]:
        inputs, targets = batch[0], batch[1]
        if state is not None and _batch_of(state) != inputs.shape[0]:
            state = None
        logits, state = self(inputs, state, batch[2] if len(batch) > 2 else None)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), detach_state(state)

    # -- training ----------------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        """Cross-entropy of the next token, carrying the (detached) state into the next chunk."""
        if batch_idx == 0 or not self.hparams.stateful:  # streams restart each epoch, so the state does too
            self._train_state = None
        loss, self._train_state = self._nll(batch, self._train_state)
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/bpt", loss / LN2)
        return loss

    # -- evaluation --------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        """Validation reads its split from the top with a fresh state."""
        self._eval_state = None

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        """Accumulate the token-weighted loss over the whole validation split."""
        loss, self._eval_state = self._nll(batch, self._carried_eval_state())
        self.val_nll.update(loss, weight=batch[1].numel())

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        """As validation, reported as test_loss."""
        loss, self._eval_state = self._nll(batch, self._carried_eval_state())
        self.test_nll.update(loss, weight=batch[1].numel())

    def _carried_eval_state(self) -> Optional[State]:
        """Evaluation reads like training: contiguous streams carry state, independent windows do not."""
        return self._eval_state if self.hparams.stateful else None

    def on_validation_epoch_end(self) -> None:
        """Log val_loss (nats per token) and val_bpt (bits per token), reduced across ranks; watch for overfitting."""
        loss = self._log_eval("val", self.val_nll)
        if self.hparams.dropout_from == "overfitting" and not self.trainer.sanity_checking:
            self._watch_overfitting(loss)

    def on_test_epoch_end(self) -> None:
        """Log test_loss and test_bpt."""
        self._log_eval("test", self.test_nll)

    def _log_eval(self, prefix: str, metric: MeanMetric) -> float:
        value = metric.compute()
        metric.reset()
        self.log_evaluation(prefix, {"loss": value, "bpt": value / LN2})
        return float(value)

    def _watch_overfitting(self, val_loss: float) -> None:
        """Switch dropout on at the first validation loss above the best (the loss is the same on every rank)."""
        if self.overfitting.observe(val_loss):
            rank_zero_info(
                f"Dropout {self.hparams.dropout:g} on from step {self.global_step}: validation loss {val_loss:.4f} "
                f"is above the best so far, {self.overfitting.best:.4f}"
            )
            self._set_dropout(self.hparams.dropout)
        self.log(DROPOUT_METRIC, float(self.dropout.p), sync_dist=True)  # the same on every rank: no warning

    def _set_dropout(self, rate: float) -> None:
        self.dropout.p = rate
        self.rnn.set_dropout(rate)

    # -- the carried state travels with the checkpoint, so a resumed run continues exactly ---
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the carried training state."""
        checkpoint["tbptt_state"] = state_as_list(self._train_state)
        checkpoint["overfitting_watch"] = self.overfitting.state_dict()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the carried training state (used when resuming mid-epoch)."""
        self._train_state = state_from_list(checkpoint.get("tbptt_state"))
        if "overfitting_watch" in checkpoint:
            self.overfitting.load_state_dict(checkpoint["overfitting_watch"])
            if self.overfitting.seen:
                self._set_dropout(self.hparams.dropout)


def _batch_of(state: State) -> int:
    return (state[0] if isinstance(state, tuple) else state).shape[1]
