"""From per-step labels to label sequences: run merging, CTC collapse and prefix beam search, edit distance.

Pure functions over plain sequences and numpy arrays (no torch, no model), so the tagger's metrics,
the data module's CTC length check, `studio tag` and the tests share one implementation. They sit
with the speech codec because they speak its label space, below the models that score with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from studio.codecs.speech.ngram import BOUNDARY, LabelNgram

# (label id, first step, end step exclusive): where in the output a label was emitted.
Emission = tuple[int, int, int]

# Labels this far below a frame's best log-probability are never extended in beam search: at
# e^-30 their share of any prefix's probability is far below float rounding.
BEAM_PRUNE_NATS = 30.0

# The CTC blank's label id: index 0 of every label set (see `studio.codecs.speech.labels.BLANK`).
BLANK_ID = 0


def edit_distance(reference: Sequence[int], hypothesis: Sequence[int]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    ref, hyp = list(reference), list(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1]


def runs(path: Sequence[int], blank: Optional[int] = None) -> list[Emission]:
    """Runs of one repeated label in `path` as (label, start, end); runs of `blank` are left out."""
    out: list[Emission] = []
    start = 0
    for t in range(1, len(path) + 1):
        if t == len(path) or path[t] != path[start]:
            if path[start] != blank:
                out.append((int(path[start]), start, t))
            start = t
    return out


def collapse(path: Sequence[int], blank: Optional[int] = None) -> list[int]:
    """Merge repeated labels, then drop `blank` (CTC's many-to-one map; with no blank, framewise run merging)."""
    return [label for label, _, _ in runs(path, blank)]


def prefix_beam_search(
    log_probs: np.ndarray,
    beam_width: int = 8,
    blank: int = 0,
    lm: Optional[LabelNgram] = None,
    lm_weight: float = 0.0,
) -> list[Emission]:
    """CTC prefix beam search over one utterance's log-probabilities [T, C]; each label with the step that emitted it.

    The step of a label is where its prefix first entered the beam, so `end = start + 1`. With `lm` and a
    positive `lm_weight` (shallow fusion), extending a prefix by a label adds `lm_weight` times the LM's
    log-probability of that label after the prefix, and the final ranking adds that of the sequence's end;
    without them the search is the plain one, step for step.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    fused = lm is not None and lm_weight != 0.0
    lp = np.asarray(log_probs, dtype=np.float64)
    neg_inf = float("-inf")
    # prefix -> [log P(prefix, ending in blank), log P(prefix, ending in its last label), emission steps]
    beam: dict[tuple[int, ...], list] = {(): [0.0, neg_inf, ()]}
    for t in range(lp.shape[0]):
        frame = lp[t]
        candidates = [c for c in np.flatnonzero(frame >= frame.max() - BEAM_PRUNE_NATS) if c != blank]
        nxt: dict[tuple[int, ...], list] = {}

        def add(
            prefix: tuple[int, ...],
            blank_lp: float,
            label_lp: float,
            steps: tuple[int, ...],
            nxt: dict[tuple[int, ...], list] = nxt,
        ) -> None:
            entry = nxt.setdefault(prefix, [neg_inf, neg_inf, steps])
            entry[0] = np.logaddexp(entry[0], blank_lp)
            entry[1] = np.logaddexp(entry[1], label_lp)

        for prefix, (p_b, p_nb, steps) in beam.items():
            total = np.logaddexp(p_b, p_nb)
            add(prefix, total + frame[blank], neg_inf, steps)
            for c in candidates:
                bonus = lm_weight * lm.log_prob(prefix, int(c)) if fused and lm is not None else 0.0
                if prefix and prefix[-1] == c:
                    # The same label again continues it; only a blank in between starts a new one.
                    add(prefix, neg_inf, p_nb + frame[c], steps)
                    add(prefix + (int(c),), neg_inf, p_b + frame[c] + bonus, steps + (t,))
                else:
                    add(prefix + (int(c),), neg_inf, total + frame[c] + bonus, steps + (t,))
        ranked = sorted(nxt.items(), key=lambda item: np.logaddexp(item[1][0], item[1][1]), reverse=True)
        beam = dict(ranked[:beam_width])

    def final(item: tuple[tuple[int, ...], list]) -> float:
        score = float(np.logaddexp(item[1][0], item[1][1]))
        if fused and lm is not None:
            score += lm_weight * lm.log_prob(item[0], BOUNDARY)  # the end of the sequence
        return score

    best, (_, _, steps) = max(beam.items(), key=final)
    return [(label, step, step + 1) for label, step in zip(best, steps)]


def ctc_frames_needed(labels: Sequence[int], subsample: int = 1) -> int:
    """Fewest input frames CTC needs to emit `labels` when `subsample` frames make one output step."""
    if not labels:
        return 1
    # A label repeated back to back needs a blank step between its two copies.
    steps = len(labels) + sum(a == b for a, b in zip(labels, labels[1:]))
    return (steps - 1) * subsample + 1
