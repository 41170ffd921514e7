"""Generation rows that may each differ: prompt, length, temperature, top-k, top-p and random stream.

Every sample is a `Row`. Rows step together in one batch, but each draws its random numbers from a
stream of its own (seeded by its `seed`), is filtered by its own settings, and leaves the batch when
its length is reached. So a row gives the same tokens whether it is generated alone or beside other
rows (up to the rounding of batched matrix products): the web server batches requests of different
people into one generation without changing what any of them gets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional, Protocol

import torch
from torch import nn

from studio.generation.decoding import (
    Constraint,
    GenerationInterrupted,
    Progress,
    TokenBuffer,
    check_request,
    conditioned_step,
    evaluating,
    masked_scores,
    prefill,
    report,
)
from studio.generation.filtering import SamplingSettings, draw_with, filter_logits
from studio.nn.state import State, select_state

# Each row's uniform numbers are drawn this many at a time from its own generator.
RANDOM_BLOCK = 256
# A watcher hears new tokens (and may cancel rows) every this many steps.
WATCH_EVERY = 16
# Row i of a request seeded s draws from the stream seeded s + i * ROW_STRIDE (mod 2**64).
ROW_STRIDE = 0x9E3779B97F4A7C15


@dataclass(frozen=True)
class Row:
    """One sample to generate: continue `prompt` by `length` tokens drawn with `settings` from stream `seed`."""

    prompt: tuple[int, ...]
    length: int
    settings: SamplingSettings
    seed: int


class RowWatcher(Protocol):
    """Hears each row's new tokens as they come, and may stop rows early (a closed connection, a Stop button)."""

    def tokens(self, row: int, ids: list[int]) -> None: ...

    def cancelled(self, row: int) -> bool: ...


def row_seed(seed: int, index: int) -> int:
    """The random stream of sample `index` of a request seeded `seed` (distinct per sample, in 64 bits)."""
    return (seed + index * ROW_STRIDE) % 2**64


class RowRandom:
    """Uniform numbers in [0, 1), one per active row per step, each row from its own seeded generator."""

    def __init__(self, seeds: Sequence[int], device: torch.device) -> None:
        self.generators = [torch.Generator(device=device).manual_seed(seed) for seed in seeds]
        self.block = torch.empty(len(seeds), RANDOM_BLOCK, device=device)

    def next(self, step: int, active: torch.Tensor) -> torch.Tensor:
        """The numbers of `step` for the rows `active` (every active row takes one number every step)."""
        column = step % RANDOM_BLOCK
        if column == 0:
            for row in active.tolist():
                self.block[row] = torch.rand(RANDOM_BLOCK, generator=self.generators[row], device=self.block.device)
        return self.block[active, column]


def filtered_by_row(scores: torch.Tensor, settings: Sequence[SamplingSettings]) -> torch.Tensor:
    """Each row's scores filtered by its own settings; rows that share settings are filtered together."""
    first = settings[0]
    if all(s == first for s in settings):
        return filter_logits(scores, first)
    out = torch.empty_like(scores)
    groups: dict[SamplingSettings, list[int]] = {}
    for row, setting in enumerate(settings):
        groups.setdefault(setting, []).append(row)
    for setting, members in groups.items():
        index = torch.tensor(members, device=scores.device)
        out[index] = filter_logits(scores[index], setting)
    return out


def prefill_rows(run: Any, rows: Sequence[Row], device: torch.device) -> tuple[torch.Tensor, State]:
    """Read each distinct prompt once; the last logits and the state of every row, in row order."""
    by_prompt: dict[tuple[int, ...], list[int]] = {}
    for index, row in enumerate(rows):
        by_prompt.setdefault(row.prompt, []).append(index)
    if len(by_prompt) == 1:
        return prefill(run, rows[0].prompt, len(rows), device)
    parts = [(members, *prefill(run, prompt, len(members), device)) for prompt, members in by_prompt.items()]
    order = torch.tensor([i for members, _, _ in parts for i in members], device=device)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=device)
    logits = torch.cat([part_logits for _, part_logits, _ in parts])[inverse]
    states = [state for _, _, state in parts]
    if isinstance(states[0], tuple):
        joined: State = tuple(torch.cat([s[k] for s in states], dim=1) for k in range(len(states[0])))  # type: ignore[assignment,index]
    else:
        joined = torch.cat(states, dim=1)  # type: ignore[arg-type]
    return logits, select_state(joined, inverse)


@torch.no_grad()
def generate_rows(
    model: nn.Module,
    rows: Sequence[Row],
    constraint: Optional[Constraint] = None,
    controls: Optional[torch.Tensor] = None,
    progress: Optional[Progress] = None,
    watcher: Optional[RowWatcher] = None,
) -> list[list[int]]:
    """Generate every row in one batch; each row's tokens, up to its length (or until it finished or was cancelled).

    A constraint (e.g. the MIDI grammar) may finish rows early. Ctrl-C raises `GenerationInterrupted`
    holding every row's tokens so far.
    """
    for row in rows:
        check_request(row.length, 1, row.prompt, row.seed)
    with evaluating(model):
        device = next(model.parameters()).device
        run = conditioned_step(model, controls)
        logits, state = prefill_rows(run, rows, device)
        if constraint is not None:
            constraint.reset(len(rows))
        longest = max(row.length for row in rows)
        out = TokenBuffer(len(rows), longest, device)
        lengths = torch.tensor([row.length for row in rows], device=device)
        done_at = lengths.clone()
        random = RowRandom([row.seed for row in rows], device)
        settings = [row.settings for row in rows]
        shared = settings[0] if all(s == settings[0] for s in settings) else None  # the usual case: one request
        active = torch.arange(len(rows), device=device)  # the row each batch row belongs to
        steps, told = 0, 0
        try:
            for step in range(longest):
                scores = masked_scores(logits, constraint)
                if shared is not None:
                    scores = filter_logits(scores, shared)
                else:
                    scores = filtered_by_row(scores, [settings[i] for i in active.tolist()])
                token = draw_with(scores.softmax(-1), random.next(step, active))
                out.put(step, token, active)
                steps = step + 1
                leaving = lengths[active] <= steps
                if constraint is not None:
                    constraint.update(token)
                    leaving |= constraint.finished().to(device)
                if watcher is not None and (steps % WATCH_EVERY == 0 or bool(leaving.any())):
                    told = _tell(watcher, out, active, told, steps, done_at)
                    leaving |= torch.tensor([watcher.cancelled(i) for i in active.tolist()], device=device)
                if bool(leaving.any()):
                    # Rows that are done leave the batch, so the rest step as a smaller (cheaper) batch.
                    done_at[active[leaving]] = steps
                    keep = (~leaving).nonzero().squeeze(1)
                    if keep.numel() == 0:
                        break
                    active, token, state = active[keep], token[keep], select_state(state, keep)
                    if constraint is not None:
                        constraint.keep(keep)
                if progress is not None and steps % 16 == 0:
                    report(progress, steps, longest, constraint, int(done_at.clamp(max=steps).sum()))
                logits, state = run(token[:, None], state)
                logits = logits[:, -1]
        except KeyboardInterrupt:
            raise GenerationInterrupted(out.rows(steps, done_at.clamp(max=steps).tolist())) from None
    result = out.rows(steps, done_at.clamp(max=steps).tolist())
    if watcher is not None:
        for index, ids in enumerate(result):
            watcher.tokens(index, ids[_told(told, index, done_at) :])
    return result


def _told(told: int, row: int, done_at: torch.Tensor) -> int:
    """How many of `row`'s tokens the watcher has heard: up to `told` steps, never past the row's end."""
    return min(told, int(done_at[row]))


def _tell(
    watcher: RowWatcher, out: TokenBuffer, active: torch.Tensor, told: int, steps: int, done_at: torch.Tensor
) -> int:
    """Give the watcher the tokens of the active rows from step `told` to `steps`; the new `told`."""
    new = out.ids[active, told:steps].tolist()
    for row, ids in zip(active.tolist(), new):
        watcher.tokens(row, ids)
    return steps
