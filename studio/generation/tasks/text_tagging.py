"""Text tagging: a label for every word of a sentence, and the spans BIO tags make (many-to-many over words)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from studio.generation.requests import check_request
from studio.generation.tasks.record import Task

if TYPE_CHECKING:
    from studio.generation.decoding import Progress
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.outputs import SampleFolder
    from studio.generation.word_tagging import TaggedWords


@dataclass(frozen=True, kw_only=True)
class TextTagRequest:
    """A text tagging request has no settings besides its texts: the checkpoint decides everything."""

    def __post_init__(self) -> None:
        check_request(self)


def run(
    loaded: LoadedCheckpoint, inputs: list[Any], request: TextTagRequest, progress: Optional[Progress]
) -> list[TaggedWords]:
    """Every text's words with their tags, in order."""
    from studio.generation.word_tagging import tag_texts

    return tag_texts(loaded.model, loaded.codec, inputs, progress)


def _record(tagged: TaggedWords) -> dict[str, Any]:
    spans = [
        {"label": kind, "start": start, "end": end, "text": " ".join(tagged.words[start:end])}
        for kind, start, end in tagged.spans
    ]
    return {"name": tagged.name, "words": tagged.words, "labels": tagged.labels, "spans": spans}


def save(folder: SampleFolder, results: list[TaggedWords], request: TextTagRequest) -> list[Path]:
    """tags.conll (a word and its tag per line, a blank line after each text) and tags.jsonl (with the spans)."""
    conll = "".join("".join(f"{w}\t{lab}\n" for w, lab in zip(t.words, t.labels)) + "\n" for t in results)
    lines = "".join(json.dumps(_record(t)) + "\n" for t in results)
    return [folder.write("tags.conll", conll.encode("utf-8")), folder.write("tags.jsonl", lines.encode("utf-8"))]


def show(results: list[TaggedWords], paths: list[Path]) -> list[str]:
    """Per text: its words with their tags (O left out), then its spans."""
    lines = []
    for tagged in results:
        lines.append(
            f"{tagged.name}: "
            + " ".join(w if lab == "O" else f"{w}/{lab}" for w, lab in zip(tagged.words, tagged.labels))
        )
        lines += [f"  {kind}: {text}" for kind, text in tagged.span_texts()]
    return lines


def read_back(folder: Path, files: list[Path], url: Callable[[str], str]) -> dict[str, Any]:
    """The saved texts, tags and spans."""
    path = folder / "tags.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return {"tagged": [json.loads(line) for line in lines if line.strip()]}


def sentences(codec: Any) -> str:
    """Texts, each line a sentence."""
    return "sentences"


def loss_unit(codec: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
    """A word tagger's loss is counted per word."""
    return "nats per word"


TEXT_TAGGING = Task(
    name="text_tagging",
    title="text tagging",
    shape="many-to-many",
    net_path="studio.nets.word_tagger:WordTaggerNet",
    codec_kind="word_tags",
    request=TextTagRequest,
    method="tag",
    command="tag",
    unit="sentences",
    noun="tagged text",
    inputs=sentences,
    run=run,
    save=save,
    show=show,
    read_back=read_back,
    loss_unit=loss_unit,
    evaluate="studio.evaluation.text_tagging:evaluate_text_tagger",
)
