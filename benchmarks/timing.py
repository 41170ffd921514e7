"""Helpers shared by the benchmarks: the presets' data settings, a step timer callback, a plain-PyTorch
baseline loop, reporting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import lightning as L
import torch
import torch.nn.functional as F
import yaml

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def preset_data(kind: str) -> dict[str, Any]:
    """The data arguments of the `kind` quickstart ("text", "midi"), read from its YAML (the one source of its split)."""
    return yaml.safe_load((CONFIGS / kind / "quickstart.yaml").read_text())["data"]["init_args"]


class StepTimer(L.Callback):
    """Records wall time from the end of step `warmup` to the end of the last step."""

    def __init__(self, warmup: int = 10) -> None:
        self.warmup = warmup
        self.start: Optional[float] = None
        self.end: Optional[float] = None
        self.tokens = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Start the clock after the warm-up steps, then count tokens."""
        now = time.perf_counter()
        if trainer.global_step == self.warmup:
            self.start = now
        elif self.start is not None:
            self.tokens += batch[0].numel()
            self.end = now

    @property
    def tokens_per_s(self) -> float:
        """Training tokens per second over the timed steps."""
        assert self.start is not None and self.end is not None, "too few steps to time"
        return self.tokens / (self.end - self.start)


def plain_training_loop(
    model: torch.nn.Module,
    batches: Iterable,
    lr: float,
    clip: float,
    max_steps: int,
    stateful: bool = True,
    warmup: int = 10,
    time_budget: Optional[float] = None,
) -> dict[str, float]:
    """The hand-written PyTorch loop Studio is held to: forward, cross-entropy, backward, clip, AdamW step."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    state, step, tokens, start = None, 0, 0, None
    began = time.perf_counter()
    while step < max_steps:
        for inputs, targets in batches:
            if state is not None and (not stateful or state[0].shape[1] != inputs.shape[0]):
                state = None
            logits, state = model(inputs, state)
            state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            step += 1
            if step == warmup:
                start = time.perf_counter()
            elif start is not None:
                tokens += inputs.numel()
            if step >= max_steps or (time_budget is not None and time.perf_counter() - began > time_budget):
                max_steps = step
                break
    end = time.perf_counter()
    return {"steps": step, "tokens_per_s": tokens / (end - start) if start and end > start else float("nan")}


class RandomWindows:
    """Batches of random windows (independent examples): the usual hand-written baseline."""

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, seed: int) -> None:
        self.ids, self.batch_size, self.seq_len = ids, batch_size, seq_len
        self.generator = torch.Generator().manual_seed(seed)

    def __iter__(self):
        while True:
            starts = torch.randint(0, len(self.ids) - self.seq_len - 1, (self.batch_size,), generator=self.generator)
            window = torch.stack([self.ids[s : s + self.seq_len + 1] for s in starts.tolist()])
            yield window[:, :-1], window[:, 1:]


@torch.no_grad()
def stateful_eval_loss(model: torch.nn.Module, batches: Iterable) -> float:
    """Token-weighted cross-entropy (nats) over a whole split, state carried across chunks."""
    model.eval()
    state, total, count = None, 0.0, 0
    for inputs, targets in batches:
        logits, state = model(inputs, state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum").item()
        count += targets.numel()
    return total / count


def report(name: str, lines: list[str], data: dict[str, Any], echo: bool = True) -> None:
    """Print the report (unless its lines were printed as they came) and keep a copy under benchmarks/results/."""
    text = "\n".join(lines)
    if echo:
        print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text + "\n")
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")


class StepFile(L.Callback):
    """Writes the global step to a file after every step, so an outside observer knows how far a run got."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Record the step (rank zero)."""
        if trainer.is_global_zero:
            self.path.write_text(str(trainer.global_step))
