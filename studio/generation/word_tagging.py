"""Tags for the words of texts from a word tagger: each text split into words, batched, tagged, spans found."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch

from studio.codecs.bio import spans
from studio.codecs.word_tags import WordTagCodec
from studio.errors import StudioError
from studio.generation.decoding import Progress, evaluating
from studio.generation.inputs import TextItem

BATCH = 64
# One text to tag is a sentence or a paragraph: longer inputs are refused before they are batched.
MAX_WORDS = 20_000


@dataclass(frozen=True)
class TaggedWords:
    """One text's words, each word's tag, and the tagged spans (for BIO tags) as (type, start, end) word indices."""

    name: str
    words: list[str]
    labels: list[str]
    spans: list[tuple[str, int, int]]

    def span_texts(self) -> list[tuple[str, str]]:
        """Each span's type and its words."""
        return [(kind, " ".join(self.words[start:end])) for kind, start, end in self.spans]


def tag_texts(
    model: Any, codec: WordTagCodec, items: Sequence[TextItem], progress: Optional[Progress] = None
) -> list[TaggedWords]:
    """Every text's words tagged, in order."""
    split = [codec.split(item.text) for item in items]
    for item, words in zip(items, split):
        if len(words) > MAX_WORDS:
            raise StudioError(
                f"{item.name} has {len(words):,} words, over the {MAX_WORDS:,} one text may have: split it into sentences"
            )
    tags = tag_word_lists(model, codec, split, progress)
    found = []
    for item, words, ids in zip(items, split, tags):
        labels = [codec.labels[t] for t in ids]
        found.append(TaggedWords(item.name, words, labels, spans(labels) if codec.spans_scored else []))
    return found


def tag_word_lists(
    model: Any, codec: WordTagCodec, sentences: Sequence[Sequence[str]], progress: Optional[Progress] = None
) -> list[list[int]]:
    """The tag ids of every word of each sentence (already split into words), in order; sentences of similar
    length are batched together."""
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    found: list[list[int]] = [[] for _ in sentences]
    device = next(model.parameters()).device
    with evaluating(model), torch.no_grad():
        for start in range(0, len(order), BATCH):
            chosen = [i for i in order[start : start + BATCH] if sentences[i]]
            if chosen:
                for i, ids in zip(chosen, _tag_batch(model, codec, [sentences[i] for i in chosen], device)):
                    found[i] = ids
            if progress is not None:
                done = min(start + BATCH, len(order))
                progress(done / len(order), done)
    return found


def _tag_batch(
    model: Any, codec: WordTagCodec, sentences: list[Sequence[str]], device: torch.device
) -> list[list[int]]:
    lengths = torch.tensor([len(s) for s in sentences])
    steps = int(lengths.max())
    words = torch.zeros(len(sentences), steps, dtype=torch.long)
    chars = torch.zeros(len(sentences), steps, codec.max_word_len, dtype=torch.long)
    for row, sentence in enumerate(sentences):
        word_ids, char_ids = codec.encode(sentence)
        words[row, : len(sentence)] = torch.from_numpy(word_ids)
        chars[row, : len(sentence)] = torch.from_numpy(char_ids)
    return model.tag_ids(words.to(device), chars.to(device), lengths)  # type: ignore[no-any-return]
