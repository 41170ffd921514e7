"""A test-only callback: each rank writes a digest of its final weights, to prove DDP kept them identical."""

from __future__ import annotations

import hashlib
import os

import lightning as L


class RankWeightsProbe(L.Callback):
    """On train end, write `<dir>/rank<r>.sha256` with a digest of this rank's parameters."""

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
            handle.write(f"{digest.hexdigest()} {trainer.global_step}\n")
