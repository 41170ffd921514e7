"""The decoding loop's shared parts: reading the prompt, the next-token scores, memory, progress and interruption.

`studio.generation.sampling.generate` and `studio.generation.beam_search.beam_search` both use them,
so both read the prompt the same way, mask and filter the same way, refuse requests that would not
fit in memory before allocating, report progress, and stop cleanly on Ctrl-C with what they have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Optional, Protocol

import torch
from torch import nn

from studio.errors import StudioError
from studio.generation.filtering import SamplingSettings, filter_logits
from studio.generation.requests import SEED_RANGE
from studio.nn.state import select_state
from studio.resources import check_memory

# The prompt is read in pieces of this many steps, so a long primer never holds all its logits at once.
PREFILL_CHUNK = 1024
# Token buffers start this wide and double when full, so memory follows what is generated, not the budget.
FIRST_COLUMNS = 1024


# Progress(fraction done in [0, 1], tokens generated so far).
Progress = Callable[[float, int], None]


class Constraint(Protocol):
    """Restricts what may come next (e.g. a MIDI grammar); batched over the samples."""

    def reset(self, batch_size: int) -> None: ...

    def allowed(self) -> torch.Tensor: ...  # bool [batch, vocab]

    def update(self, tokens: torch.Tensor) -> None: ...  # long [batch]

    def finished(self) -> torch.Tensor: ...  # bool [batch]

    def keep(self, rows: torch.Tensor) -> None: ...  # long [new batch]: narrow the batch to these rows

    # Optional: `progress()` -> float in [0, 1], how far the slowest unfinished row is towards its target.


class GenerationInterrupted(Exception):
    """Ctrl-C during generation: `partial` holds what was generated until then (token rows, or decoded results)."""

    def __init__(self, partial: Any) -> None:
        super().__init__("generation interrupted")
        self.partial = partial


def check_request(length: int, num_samples: int, prompt: Sequence[int], seed: int = 0) -> None:
    """One-line errors for a generation request that cannot run."""
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise StudioError(f"--seed {seed} is out of range: use a whole number from 0 to {SEED_RANGE[1]}")
    if length <= 0:
        raise StudioError(f"--length {length} must be > 0")
    if num_samples <= 0:
        raise StudioError(f"--num_samples {num_samples} must be > 0")
    if not prompt:
        raise StudioError("the prompt is empty: give at least one token")


def conditioned_step(model: nn.Module, controls: Optional[torch.Tensor]) -> Callable[[torch.Tensor, Any], tuple]:
    """`model(tokens, state)`, with the constant `controls` [control_dim] beside every token when given."""
    if controls is None:
        return model
    device = next(model.parameters()).device
    controls = torch.as_tensor(controls, dtype=torch.float32, device=device)
    return lambda tokens, state: model(tokens, state, controls=controls.expand(*tokens.shape, -1))


def check_request_memory(model: nn.Module, rows: int, length: int, fix: str) -> None:
    """Refuse, before allocating, a request whose batch of `rows` over up to `length` steps would not fit in memory."""
    parameters = list(model.parameters())
    vocab = max((p.shape[0] for p in parameters if p.dim() == 2), default=1)
    state = sum(p.shape[0] for p in parameters if p.dim() == 2) * 4  # a generous bound on state per row, bytes
    # Per row: the ids (int64, up to `length`), the step's logits, probabilities and cumulative sums, the state.
    per_row = 8 * length + 6 * 4 * vocab + state
    check_memory(f"generating {rows} row(s) of up to {length} tokens", rows * per_row, fix)


def prefill(
    run: Callable[[torch.Tensor, Any], tuple], prompt: Sequence[int], rows: int, device: torch.device
) -> tuple[torch.Tensor, Any]:
    """Read the prompt once; the last step's logits and the state, copied for each of `rows` batch rows."""
    ids = torch.tensor([list(prompt)], device=device)
    state: Any = None
    for start in range(0, ids.shape[1], PREFILL_CHUNK):
        logits, state = run(ids[:, start : start + PREFILL_CHUNK], state)
        logits = logits[:, -1]
    state = select_state(state, torch.zeros(rows, dtype=torch.long, device=device))
    return logits.expand(rows, -1), state


def masked_scores(logits: torch.Tensor, constraint: Optional[Constraint]) -> torch.Tensor:
    """The logits as float32, with what the constraint forbids masked out."""
    scores = logits.float()
    if constraint is not None:
        scores = scores.masked_fill(~constraint.allowed().to(scores.device), float("-inf"))
    return scores


def next_scores(logits: torch.Tensor, constraint: Optional[Constraint], settings: SamplingSettings) -> torch.Tensor:
    """The log-scores a token is drawn from: grammar mask, then temperature, top-k and top-p."""
    return filter_logits(masked_scores(logits, constraint), settings)


class TokenBuffer:
    """Token ids [rows, steps] that grow by doubling, so memory follows the tokens actually generated."""

    def __init__(self, rows: int, length: int, device: torch.device) -> None:
        self.length = length
        self.ids = torch.empty(rows, min(length, FIRST_COLUMNS), dtype=torch.long, device=device)

    def put(self, step: int, tokens: torch.Tensor, rows: Optional[torch.Tensor] = None) -> None:
        """Write the tokens of `step` (into `rows`, or every row)."""
        if step == self.ids.shape[1]:
            more = torch.empty_like(self.ids[:, : min(self.ids.shape[1], self.length - step)])
            self.ids = torch.cat((self.ids, more), dim=1)
        if rows is None:
            self.ids[:, step] = tokens
        else:
            self.ids[rows, step] = tokens

    def keep(self, rows: torch.Tensor) -> None:
        """Narrow (or repeat) the rows to `rows`."""
        self.ids = self.ids[rows]

    def rows(self, steps: int, lengths: list[int]) -> list[list[int]]:
        """Each row's first `lengths[i]` tokens of the `steps` generated."""
        return [row[:n] for row, n in zip(self.ids[:, :steps].tolist(), lengths)]


def report(progress: Optional[Progress], step: int, length: int, constraint: Optional[Constraint], tokens: int) -> None:
    """Tell `progress` how far the request is: by steps, or by the constraint's own target when it has one."""
    if progress is None:
        return
    done = step / length
    measure = getattr(constraint, "progress", None)
    if measure is not None:
        done = max(done, float(measure()))
    progress(min(done, 1.0), tokens)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run the block with `model` in eval mode, and give it back its training mode afterwards, whatever happens."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
