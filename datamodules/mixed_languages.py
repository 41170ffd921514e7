"""The embedded tagging corpus: sentences in one language with passages of another, the passages tagged (BIO).

Built from the six texts that ship with music21 (see `datamodules.languages`): each sentence is a run
of words of one language into which a passage of one to four words of another language may be set;
the passage's words are tagged `B-XX` and `I-XX` (XX the passage's language) and every other word `O`.
Finding the foreign passages of a text is word-level language identification of code-switched text
(as in the LinCE benchmark); a tagger must read context, since many short words exist in several
languages. Each text's tail is held out as in the classification data, so test sentences are made of
passages training never saw.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from datamodules.languages import LANGUAGES, held_out_split, language_words
from studio.codecs.conll import Sentence
from studio.codecs.word_tags import WORD

SENTENCES = {"train": 6000, "val": 600, "test": 600}


def split_tokens(code: str, split: str) -> list[str]:
    """The words and punctuation of one language's text that belong to `split` (its tail is held out)."""
    words = language_words(code)
    chunks = 100
    size = len(words) // chunks
    mine = [i for i in range(chunks) if held_out_split(i, chunks) == split]
    return [token for i in mine for word in words[i * size : (i + 1) * size] for token in WORD.findall(word)]


def _passage(tokens: list[str], rng: np.random.Generator, size: int) -> list[str]:
    """`size` consecutive words (no punctuation) from a random place in `tokens`."""
    for _ in range(100):
        start = int(rng.integers(0, len(tokens) - size))
        chosen = tokens[start : start + size]
        if all(any(c.isalpha() for c in token) for token in chosen):
            return chosen
    return chosen


def mixed_sentences(seed: int = 0, counts: dict[str, int] = SENTENCES) -> Iterator[tuple[Sentence, str]]:
    """Every split's sentences, with their split: train first, then validation, then test."""
    codes = sorted(LANGUAGES)
    for split, count in counts.items():
        rng = np.random.default_rng([seed, list(counts).index(split)])
        tokens = {code: split_tokens(code, split) for code in codes}
        for n in range(count):
            base = codes[int(rng.integers(len(codes)))]
            length = int(rng.integers(8, 17))
            start = int(rng.integers(0, len(tokens[base]) - length))
            words = tokens[base][start : start + length]
            labels = ["O"] * len(words)
            for _ in range(int(rng.choice([0, 1, 1, 2]))):
                other = codes[int(rng.integers(len(codes)))]
                if other == base:
                    continue
                passage = _passage(tokens[other], rng, int(rng.integers(1, 5)))
                # Never inside another passage: it would be cut in two.
                places = [i for i in range(len(words) + 1) if i == len(words) or not labels[i].startswith("I-")]
                at = places[int(rng.integers(len(places)))]
                tags = [f"B-{other.upper()}"] + [f"I-{other.upper()}"] * (len(passage) - 1)
                words[at:at] = passage
                labels[at:at] = tags
            yield Sentence(tuple(words), tuple(labels), f"{split}:{n}"), split
