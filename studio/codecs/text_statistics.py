"""Statistics of generated text against a reference text: vocabulary, repetition, n-gram divergence, lengths."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"[A-Za-z']+")
# The statistics that measure a text against the reference; the rest describe a text on its own.
AGAINST_REFERENCE = ("known_word_share", "char_3gram_kl", "word_length_distance", "line_length_distance")
# Divergences from the reference: 0 is a perfect match, so lower is closer (a real text's own figure,
# measured on a slice of it, is no target: it is inflated by the slice's sampling noise).
DIVERGENCES = ("char_3gram_kl", "word_length_distance", "line_length_distance")
# Length histograms: words by letters (1 to 15, then 16 or more), lines by tens of characters (to 150).
WORD_LENGTH_BINS = 16
LINE_LENGTH_BIN, LINE_LENGTH_BINS = 10, 16


def words(text: str) -> list[str]:
    """The words of a text, lower-cased (letters and apostrophes)."""
    return [w.lower() for w in WORD.findall(text)]


def known_word_share(generated: Sequence[str], reference: str) -> float:
    """Share of generated words that occur in the reference text."""
    vocabulary = set(words(reference))
    made = [w for text in generated for w in words(text)]
    return sum(w in vocabulary for w in made) / len(made) if made else 0.0


def distinct_n(generated: Sequence[str], n: int) -> float:
    """Distinct word n-grams over all n-grams of the generated texts (1.0: nothing repeats)."""
    grams = [tuple(ws[i : i + n]) for text in generated for ws in [words(text)] for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def char_ngram_kl(generated: Sequence[str], reference: str, n: int = 3) -> float:
    """KL divergence (nats) of the generated texts' character n-gram distribution from the reference's.

    Add-one smoothing over the n-grams either side has seen keeps the divergence finite.
    """

    def counts(texts: Sequence[str]) -> Counter:
        return Counter(t[i : i + n] for t in texts for i in range(len(t) - n + 1))

    made, real = counts(generated), counts([reference])
    support = set(made) | set(real)
    if not made or not support:
        return 0.0
    made_total, real_total = sum(made.values()) + len(support), sum(real.values()) + len(support)
    return sum(
        ((made[g] + 1) / made_total) * math.log(((made[g] + 1) / made_total) / ((real[g] + 1) / real_total))
        for g in support
    )


def mean_word_length(texts: Sequence[str]) -> float:
    """Mean number of letters per word."""
    all_words = [w for text in texts for w in words(text)]
    return sum(map(len, all_words)) / len(all_words) if all_words else 0.0


def mean_line_length(texts: Sequence[str]) -> float:
    """Mean number of characters per non-empty line."""
    lines = _lines(texts)
    return sum(map(len, lines)) / len(lines) if lines else 0.0


def _lines(texts: Sequence[str]) -> list[str]:
    return [line for text in texts for line in text.splitlines() if line.strip()]


def _share_distance(first: Sequence[int], second: Sequence[int], bins: int) -> float:
    """Total variation distance between the histograms of two lists of bin numbers (1.0 when either is empty)."""
    if not first or not second:
        return 1.0
    a = Counter(min(b, bins - 1) for b in first)
    b = Counter(min(b, bins - 1) for b in second)
    return 0.5 * sum(abs(a[k] / len(first) - b[k] / len(second)) for k in range(bins))


def word_length_distance(generated: Sequence[str], reference: str) -> float:
    """Total variation distance (0 to 1) between the word-length distributions of generated and reference text."""
    return _share_distance(
        [len(w) - 1 for t in generated for w in words(t)], [len(w) - 1 for w in words(reference)], WORD_LENGTH_BINS
    )


def line_length_distance(generated: Sequence[str], reference: str) -> float:
    """Total variation distance (0 to 1) between the line-length distributions, in bins of ten characters."""
    return _share_distance(
        [len(line) // LINE_LENGTH_BIN for line in _lines(generated)],
        [len(line) // LINE_LENGTH_BIN for line in _lines([reference])],
        LINE_LENGTH_BINS,
    )


def text_statistics(generated: Sequence[str], reference: str) -> dict[str, float]:
    """Every statistic of generated texts against the reference."""
    return {
        "known_word_share": known_word_share(generated, reference),
        **{f"distinct_{n}": distinct_n(generated, n) for n in range(1, 5)},
        "char_3gram_kl": char_ngram_kl(generated, reference),
        "mean_word_length": mean_word_length(generated),
        "mean_line_length": mean_line_length(generated),
        "word_length_distance": word_length_distance(generated, reference),
        "line_length_distance": line_length_distance(generated, reference),
    }
