"""Statistics of generated text against a reference text: vocabulary, repetition, n-gram divergence, lengths."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

WORD = re.compile(r"[A-Za-z']+")
# The statistics that measure a text against the reference; the rest describe a text on its own.
AGAINST_REFERENCE = ("known_word_share", "char_3gram_kl", "word_length_distance", "line_length_distance")
# Divergences from the reference: 0 is a perfect match, so lower is closer (a real text's own figure,
# measured on a slice of it, is no target: it is inflated by the slice's sampling noise).
DIVERGENCES = ("char_3gram_kl", "word_length_distance", "line_length_distance")
# Length histograms: words by letters (1 to 15, then 16 or more), lines by tens of characters (to 150).
WORD_LENGTH_BINS = 16
LINE_LENGTH_BIN, LINE_LENGTH_BINS = 10, 16
N_GRAM = 3


def words(text: str) -> list[str]:
    """The words of a text, lower-cased (letters and apostrophes)."""
    return [w.lower() for w in WORD.findall(text)]


def _lines(texts: Sequence[str]) -> list[str]:
    return [line for text in texts for line in text.splitlines() if line.strip()]


def _char_ngrams(texts: Sequence[str]) -> Counter:
    return Counter(t[i : i + N_GRAM] for t in texts for i in range(len(t) - N_GRAM + 1))


def _word_length_bins(texts: Sequence[str]) -> Counter:
    return Counter(min(len(w) - 1, WORD_LENGTH_BINS - 1) for t in texts for w in words(t))


def _line_length_bins(texts: Sequence[str]) -> Counter:
    return Counter(min(len(line) // LINE_LENGTH_BIN, LINE_LENGTH_BINS - 1) for line in _lines(texts))


@dataclass(frozen=True)
class Reference:
    """What the statistics need of a reference text, read once: a large text is compared many times."""

    vocabulary: frozenset[str]
    char_ngrams: Counter
    word_lengths: Counter  # histogram bin -> words
    line_lengths: Counter  # histogram bin -> lines

    @classmethod
    def of(cls, text: str) -> Reference:
        """Summarise `text`."""
        return cls(frozenset(words(text)), _char_ngrams([text]), _word_length_bins([text]), _line_length_bins([text]))


TextOrReference = Union[str, Reference]


def _summary(reference: TextOrReference) -> Reference:
    return reference if isinstance(reference, Reference) else Reference.of(reference)


def known_word_share(generated: Sequence[str], reference: TextOrReference) -> float:
    """Share of generated words that occur in the reference text."""
    vocabulary = _summary(reference).vocabulary
    made = [w for text in generated for w in words(text)]
    return sum(w in vocabulary for w in made) / len(made) if made else 0.0


def distinct_n(generated: Sequence[str], n: int) -> float:
    """Distinct word n-grams over all n-grams of the generated texts (1.0: nothing repeats)."""
    grams = [tuple(ws[i : i + n]) for text in generated for ws in [words(text)] for i in range(len(ws) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def char_ngram_kl(generated: Sequence[str], reference: TextOrReference) -> float:
    """KL divergence (nats) of the generated texts' character 3-gram distribution from the reference's.

    Add-one smoothing over the n-grams either side has seen keeps the divergence finite.
    """
    made, real = _char_ngrams(generated), _summary(reference).char_ngrams
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


def _total_variation(first: Counter, second: Counter) -> float:
    """Total variation distance between two histograms (1.0 when either is empty)."""
    n, m = sum(first.values()), sum(second.values())
    if not n or not m:
        return 1.0
    return 0.5 * sum(abs(first[k] / n - second[k] / m) for k in set(first) | set(second))


def word_length_distance(generated: Sequence[str], reference: TextOrReference) -> float:
    """Total variation distance (0 to 1) between the word-length distributions of generated and reference text."""
    return _total_variation(_word_length_bins(generated), _summary(reference).word_lengths)


def line_length_distance(generated: Sequence[str], reference: TextOrReference) -> float:
    """Total variation distance (0 to 1) between the line-length distributions, in bins of ten characters."""
    return _total_variation(_line_length_bins(generated), _summary(reference).line_lengths)


def text_statistics(generated: Sequence[str], reference: TextOrReference) -> dict[str, float]:
    """Every statistic of generated texts against the reference (a text, or its `Reference` read once)."""
    summary = _summary(reference)
    return {
        "known_word_share": known_word_share(generated, summary),
        **{f"distinct_{n}": distinct_n(generated, n) for n in range(1, 5)},
        "char_3gram_kl": char_ngram_kl(generated, summary),
        "mean_word_length": mean_word_length(generated),
        "mean_line_length": mean_line_length(generated),
        "word_length_distance": word_length_distance(generated, summary),
        "line_length_distance": line_length_distance(generated, summary),
    }
