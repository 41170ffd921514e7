"""A test-only callback: each rank writes a digest of its final weights and its dropout rates, to prove
DDP kept them identical."""

from __future__ import annotations

import hashlib
import os

import lightning as L
from torch import nn

RATED = (nn.Dropout, nn.RNNBase)


class RankWeightsProbe(L.Callback):
    """On train end, write `<dir>/rank<r>.sha256`: a digest of this rank's parameters, its step, its dropout rates."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = dirpath

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Digest every parameter's bytes in a fixed order."""
        digest = hashlib.sha256()
        for name, tensor in sorted(pl_module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        os.makedirs(self.dirpath, exist_ok=True)
        with open(os.path.join(self.dirpath, f"rank{trainer.global_rank}.sha256"), "w") as handle:
            handle.write(f"{digest.hexdigest()} {trainer.global_step} dropout={dropout_rates(pl_module)}\n")


def dropout_rates(module: nn.Module) -> str:
    """Every dropout rate in `module` (dropout layers, and between a recurrent stack's layers), in order."""
    rates = [m.p if isinstance(m, nn.Dropout) else m.dropout for m in module.modules() if isinstance(m, RATED)]
    return ",".join(f"{rate:g}" for rate in rates)
