"""LabelNgram: a small n-gram language model over label sequences (characters, phones or words), for CTC beam search.

Counted from the training transcripts when a run starts (`datamodules/speech.py`, `lm_order`) and kept
as plain data inside the speech codec, so a checkpoint carries it. The CTC prefix beam search adds
`lm_weight` times its log-probability of each label to the acoustic score (shallow fusion), and of the
end of the sequence when it ranks the final prefixes.

Smoothing: add-k towards the next lower order (a Dirichlet prior whose mean is the lower order's
distribution; the unigram's is uniform), so unseen continuations keep probability in proportion to
how likely they are with a shorter history:
    P_n(c | h) = (C(h, c) + k * P_{n-1}(c | h[1:])) / (C(h) + k)
Id 0 (the CTC blank, never a label of a transcript) stands for the start and the end of a sequence.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from studio.errors import StudioError

BOUNDARY = 0
MAX_ORDER = 8
MAX_NGRAMS = 2_000_000


class LabelNgram:
    """Counts of `order`-grams over label ids 1..num_labels-1 (0: start and end), smoothed by add-k towards lower orders."""

    def __init__(self, order: int, num_labels: int, k: float = 1.0, counts: Counter | None = None) -> None:
        if not 1 <= order <= MAX_ORDER:
            raise StudioError(
                f"--data.init_args.lm_order {order} must be between 1 and {MAX_ORDER} (0 turns the LM off)"
            )
        if not k > 0:
            raise StudioError(f"--data.init_args.lm_smoothing {k} must be positive, e.g. 1.0")
        if num_labels < 2:
            raise StudioError("a label n-gram needs at least one label besides the blank")
        self.order, self.num_labels, self.k = order, num_labels, float(k)
        self.counts: Counter = counts if counts is not None else Counter()  # (history..., label) -> count
        self._tables: list[tuple[Counter, Counter]] | None = None
        self._cache: dict[tuple[int, ...], float] = {}

    # -- counting ------------------------------------------------------------------------------
    def add(self, labels: Sequence[int]) -> None:
        """Count one transcript's label ids (no blanks)."""
        padded = [BOUNDARY] * (self.order - 1) + [int(label) for label in labels] + [BOUNDARY]
        for end in range(self.order - 1, len(padded)):
            if padded[end] != BOUNDARY and not 0 < padded[end] < self.num_labels:
                raise StudioError(f"label id {padded[end]} is outside the label set of {self.num_labels}")
            self.counts[tuple(padded[end - self.order + 1 : end + 1])] += 1
        if len(self.counts) > MAX_NGRAMS:
            raise StudioError(f"the label n-gram holds over {MAX_NGRAMS:,} n-grams: lower --data.init_args.lm_order")
        self._tables, self._cache = None, {}

    @classmethod
    def counted(cls, transcripts: Iterable[Sequence[int]], order: int, num_labels: int, k: float = 1.0) -> LabelNgram:
        """An n-gram of `order` counted over `transcripts`, one at a time."""
        model = cls(order, num_labels, k)
        for labels in transcripts:
            model.add(labels)
        return model

    # -- probabilities -------------------------------------------------------------------------
    def _orders(self) -> list[tuple[Counter, Counter]]:
        """Per history length 0..order-1: counts of (history, label) and of history, from the full-order counts."""
        if self._tables is None:
            tables = []
            for length in range(self.order):
                grams: Counter = Counter()
                for gram, n in self.counts.items():
                    grams[gram[self.order - 1 - length :]] += n
                histories: Counter = Counter()
                for gram, n in grams.items():
                    histories[gram[:-1]] += n
                tables.append((grams, histories))
            self._tables = tables
        return self._tables

    def log_prob(self, history: Sequence[int], label: int) -> float:
        """Natural log of P(`label` | the labels before it); `label` BOUNDARY is the end of the sequence."""
        padded = (BOUNDARY,) * (self.order - 1) + tuple(int(v) for v in history)
        key = (*padded[len(padded) - self.order + 1 :], int(label)) if self.order > 1 else (int(label),)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = math.log(self._prob(key[:-1], key[-1]))
        return found

    def _prob(self, history: tuple[int, ...], label: int) -> float:
        p = 1.0 / self.num_labels  # the labels and the end (the blank's id stands for it)
        tables = self._orders()
        for length in range(len(history) + 1):
            grams, histories = tables[length]
            context = history[len(history) - length :]
            p = (grams.get((*context, label), 0) + self.k * p) / (histories.get(context, 0) + self.k)
        return p

    # -- plain data ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data for checkpoints: settings and every counted n-gram as a row of ids ending with its count."""
        rows = [[*gram, int(n)] for gram, n in sorted(self.counts.items())]
        return {"order": self.order, "num_labels": self.num_labels, "k": self.k, "counts": rows}

    @classmethod
    def from_dict(cls, data: Any) -> LabelNgram:
        """Rebuild from `to_dict()` output."""
        try:
            order, rows = int(data["order"]), data["counts"]
            counts = Counter({tuple(int(v) for v in row[:-1]): int(row[-1]) for row in rows})
            if any(len(gram) != order for gram in counts):
                raise ValueError("an n-gram of another order")
            return cls(order, int(data["num_labels"]), float(data["k"]), counts)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise StudioError(f"the stored label n-gram is damaged ({error}): train the model again") from None
