"""Beam search for generation, after Magenta's Performance RNN: sampled branches, pruned to the likeliest.

Each piece keeps `beam_size` sequences. Every iteration copies each one `branch_factor` times, extends
every copy by `steps_per_iteration` sampled tokens, and keeps the `beam_size` best distinct candidates.
A sequence's score is the summed log-probability of its sampled tokens under the (masked, filtered)
distribution they were drawn from. All pieces, beams and branches step together as one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from studio.errors import StudioError
from studio.generation.decoding import (
    Constraint,
    GenerationInterrupted,
    Progress,
    TokenBuffer,
    check_request,
    check_request_memory,
    conditioned_step,
    evaluating,
    next_scores,
    prefill,
    report,
)
from studio.generation.filtering import SamplingSettings, draw_with
from studio.generation.rows import RowRandom, row_seed
from studio.nn.state import select_state


@dataclass(frozen=True)
class Candidates:
    """The final `beam_size * branch_factor` candidates of every piece."""

    rows: list[list[list[int]]]  # [piece][candidate]: token ids (prompt excluded), cut after they finish
    scores: torch.Tensor  # float64 [pieces, candidates]: summed log-probabilities of the sampled tokens
    finished: torch.Tensor  # bool [pieces, candidates]

    def best(self) -> list[list[int]]:
        """Each piece's best candidate: the top score among finished ones (among all when none finished)."""
        picks = _rank(self.scores, ~self.finished)[:, 0].tolist()
        return [rows[i] for rows, i in zip(self.rows, picks)]


def _rank(scores: torch.Tensor, worse: torch.Tensor) -> torch.Tensor:
    """Candidate indices per piece [N, C], best first: `worse` ones last, then by score; ties keep index order."""
    by_score = torch.sort(scores, dim=1, descending=True, stable=True).indices
    by_flag = torch.sort(worse.gather(1, by_score).long(), dim=1, stable=True).indices
    return by_score.gather(1, by_flag)


def _prune(scores: torch.Tensor, seq_id: torch.Tensor, beam_size: int, branch_factor: int) -> torch.Tensor:
    """Rows for the next iteration: each piece's `beam_size` best distinct candidates, `branch_factor` times each.

    A candidate equal to a better-ranked one (same tokens) only fills slots that distinct ones cannot.
    """
    total = scores.numel()
    width = beam_size * branch_factor
    pieces = scores.view(-1, width)
    offsets = torch.arange(0, total, width, device=scores.device)[:, None]
    ranked = (torch.sort(pieces, dim=1, descending=True, stable=True).indices + offsets).view(-1)
    ids = seq_id[ranked]
    order = torch.arange(total, device=scores.device)
    first = torch.full((total,), total, device=scores.device).scatter_reduce(0, ids, order, "amin")
    repeat = torch.zeros(total, dtype=torch.bool, device=scores.device)
    repeat[ranked] = first[ids] != order
    chosen = _rank(pieces, repeat.view(-1, width))[:, :beam_size] + offsets
    return chosen.repeat_interleave(branch_factor, dim=1).reshape(-1)


@dataclass(frozen=True)
class BeamSettings:
    """Magenta's beam options: beams kept per piece, sampled copies per beam, events between prunings.

    The default (1, 1, 1) is plain sampling.
    """

    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1

    def __post_init__(self) -> None:
        if self.beam_size < 1:
            raise StudioError(f"--beam_size {self.beam_size} must be >= 1 (1 with --branch_factor 1 is plain sampling)")
        if self.branch_factor < 1:
            raise StudioError(
                f"--branch_factor {self.branch_factor} must be >= 1 (try 2: copies of each beam per iteration)"
            )
        if self.steps_per_iteration < 1:
            raise StudioError(
                f"--steps_per_iteration {self.steps_per_iteration} must be >= 1 (try 1: prune after every step)"
            )

    @property
    def plain(self) -> bool:
        """Whether these settings are plain sampling (one beam, no branching)."""
        return self.beam_size == 1 and self.branch_factor == 1

    @property
    def width(self) -> int:
        """Candidates per piece stepped together."""
        return self.beam_size * self.branch_factor


@torch.no_grad()
def beam_search(
    model: nn.Module,
    prompt: Sequence[int],
    length: int,
    num_samples: int,
    settings: SamplingSettings,
    seed: int,
    constraint: Optional[Constraint],
    beam: BeamSettings,
    controls: Optional[torch.Tensor] = None,
    progress: Optional[Progress] = None,
) -> Candidates:
    """Continue `prompt` by up to `length` tokens for each of `num_samples` pieces; every piece's final candidates.

    `.best()` of the result gives each piece's best sequence (finished ones preferred), cut after the
    constraint finishes it, like `studio.generation.sampling.generate`. The same seed gives the same pieces;
    beam_size = branch_factor = 1 is plain sampling. `controls` [control_dim] go beside every step of a
    conditioned model. `progress` hears how far it is; Ctrl-C raises `GenerationInterrupted` holding each
    piece's best candidate so far.
    """
    check_request(length, num_samples, prompt, seed)
    check_request_memory(
        model,
        num_samples * beam.width,
        length,
        "use a smaller --beam_size, --branch_factor or --num_samples, or a shorter piece",
    )
    beam_size, branch_factor, steps_per_iteration = beam.beam_size, beam.branch_factor, beam.steps_per_iteration
    with evaluating(model):
        device = next(model.parameters()).device
        run = conditioned_step(model, controls)
        width = beam.width
        total = num_samples * width
        # Candidate slot r draws from the stream of sample r of `generate`: one iteration is best-of-n sampling.
        random, slots = RowRandom([row_seed(seed, r) for r in range(total)], device), torch.arange(total, device=device)
        # Read the prompt once; at first every candidate of a piece continues it independently.
        logits, state = prefill(run, prompt, total, device)
        if constraint is not None:
            constraint.reset(total)
        out = TokenBuffer(total, length, device)
        done_at = torch.full((total,), length, dtype=torch.long, device=device)
        finished = torch.zeros(total, dtype=torch.bool, device=device)
        scores = torch.zeros(total, dtype=torch.float64, device=device)
        # Equal ids <=> equal sequences (tokens after a row finished ignored); pieces never share one.
        seq_id = torch.arange(num_samples, device=device).repeat_interleave(width)
        steps = 0
        interrupted = False
        try:
            for step in range(length):
                filtered = next_scores(logits, constraint, settings)
                token = draw_with(filtered.softmax(-1), random.next(step, slots))
                log_prob = filtered.log_softmax(-1).gather(1, token[:, None]).squeeze(1)
                scores += log_prob.double().masked_fill(finished, 0.0)  # a finished row's score is frozen
                pair = torch.stack((seq_id, token.masked_fill(finished, -1)), 1)
                seq_id = torch.unique(pair, dim=0, return_inverse=True)[1]
                out.put(step, token)
                steps = step + 1
                if constraint is not None:
                    constraint.update(token)
                    now = constraint.finished().to(device)
                    done_at = torch.where(now & ~finished, steps, done_at)
                    finished = finished | now
                if steps == length or bool(finished.all()):
                    break
                if steps % steps_per_iteration == 0:
                    keep = _prune(scores, seq_id, beam_size, branch_factor)
                    token, state, done_at = token[keep], select_state(state, keep), done_at[keep]
                    finished, scores, seq_id = finished[keep], scores[keep], seq_id[keep]
                    out.keep(keep)
                    if constraint is not None:
                        constraint.keep(keep)
                if steps % 16 == 0:
                    report(progress, steps, length, constraint, steps * num_samples)
                logits, state = run(token[:, None], state)
                logits = logits[:, -1]
        except KeyboardInterrupt:
            interrupted = True
    cut = out.rows(steps, done_at.clamp(max=steps).tolist())
    rows = [cut[i : i + width] for i in range(0, total, width)]
    found = Candidates(rows, scores.view(num_samples, width).cpu(), finished.view(num_samples, width).cpu())
    if interrupted:
        raise GenerationInterrupted(found.best())
    return Candidates(rows, scores.view(num_samples, width).cpu(), finished.view(num_samples, width).cpu())
