"""The embedded multilingual texts: six languages that ship with music21, as classification and tagging data.

music21 ships excerpts of literature for its language detector: Goethe's Faust (German), Austen's
Lady Susan (English), Voltaire (French), Dante (Italian), Latin hymns and Dutch prose. Cut into
short snippets, they make a real language-identification task offline. The end of each text is held
out (the first half of that tail for validation, the rest for testing), so no held-out snippet shares
a passage with training.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from studio.codecs.labelled import Record

LANGUAGES = {"de": "German", "en": "English", "fr": "French", "it": "Italian", "la": "Latin", "nl": "Dutch"}
HELD_OUT = 0.2


@functools.cache
def language_words(code: str) -> tuple[str, ...]:
    """The words of one language's text, in order (Project Gutenberg's header and footer lines left out)."""
    import music21

    path = Path(music21.__file__).parent / "languageExcerpts" / "trainingData" / f"{code}.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(word for line in lines if "gutenberg" not in line.lower() for word in line.split())


def cut_snippets(words: tuple[str, ...], rng: np.random.Generator, shortest: int, longest: int) -> list[str]:
    """The words cut, in order, into snippets of `shortest` to `longest` words."""
    snippets, start = [], 0
    while start + shortest <= len(words):
        size = int(rng.integers(shortest, longest + 1))
        snippets.append(" ".join(words[start : start + size]))
        start += size
    return snippets


def held_out_split(index: int, count: int) -> str:
    """The split of the `index`-th of `count` snippets of a text: its tail is validation, then test."""
    tail = int(count * HELD_OUT)
    if index < count - tail:
        return "train"
    return "val" if index < count - tail // 2 else "test"


def language_records(seed: int = 0, shortest: int = 4, longest: int = 10) -> Iterator[Record]:
    """Snippets of every language, labelled with its code; as many per language (the smallest text's count)."""
    rng = np.random.default_rng(seed)
    cut = {code: cut_snippets(language_words(code), rng, shortest, longest) for code in LANGUAGES}
    per_language = min(len(snippets) for snippets in cut.values())
    for code, snippets in cut.items():
        # Evenly spaced snippets of each text, so every language's whole text is sampled, tail held out.
        keep = np.linspace(0, len(snippets) - 1, per_language).round().astype(int)
        for index, position in enumerate(keep):
            split = held_out_split(index, per_language)
            yield Record(f"{code}:{position}", snippets[position], None, (code,), split)
