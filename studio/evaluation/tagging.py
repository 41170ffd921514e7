"""A tagger against labelled recordings: tag each one through the API, score its labels and frames.

The data is a TIMIT-style folder (audio + `.phn` alignments) or a JSONL manifest (label sequences
only), read as the training data is (`studio.codecs.speech.corpus`). Reference labels are folded
with the checkpoint's own label set and repeats merged, as training does by default. Frame accuracy
needs aligned references and a framewise tagger (CTC emits one spike per label, not a label per frame).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from studio.codecs.speech import SpeechCodec, frame_labels, read_audio
from studio.codecs.speech.corpus import CorpusRead, Utterance, read_manifest_lines, read_timit
from studio.codecs.speech.ctc import collapse
from studio.errors import StudioError
from studio.evaluation.label_errors import LabelScore
from studio.evaluation.report import confusion_plot, table
from studio.evaluation.request import Evaluation, EvaluationRequest, check_scored_on_data
from studio.generation import Generator
from studio.generation.decoding import Progress
from studio.generation.tagging import Span


@dataclass
class TaggingResult:
    """The scores over the usable utterances, and the ones skipped as (name, why)."""

    score: LabelScore
    skipped: list[tuple[str, str]] = field(default_factory=list)


def read_labelled(paths: Sequence[str]) -> CorpusRead:
    """Utterances of each TIMIT-style folder or JSONL manifest in `paths`, with what was skipped in them."""
    read = CorpusRead()
    for given in paths:
        path = Path(given).expanduser()
        if path.is_file():
            found = read_manifest_lines(path)
            found.skipped = [(f"{path.name} {name}", why) for name, why in found.skipped]
        elif path.is_dir():
            found = read_timit(path)
        else:
            raise StudioError(
                f"--data {given} does not exist: pass a TIMIT-style folder (.wav + .phn) or a JSONL manifest"
            )
        read.utterances += found.utterances
        read.skipped += found.skipped
        read.total += found.total
    return read


def frames_of(spans: Sequence[Span], n_frames: int, codec: SpeechCodec) -> np.ndarray:
    """Label id per feature frame from labelled spans in seconds (each frame takes the span over its centre)."""
    ids = {name: i for i, name in enumerate(codec.labels.labels)}
    return frame_labels([(start, end, ids[label]) for label, start, end in spans], n_frames, codec.features)


def _frames_in(samples: np.ndarray, sr: int, codec: SpeechCodec) -> int:
    # Polyphase resampling to the model's rate yields ceil(n * rate / sr) samples.
    return codec.features.num_frames(math.ceil(samples.shape[0] * codec.features.sample_rate / sr))


def _reference(utterance: Utterance, codec: SpeechCodec) -> list[int]:
    try:
        ids = collapse(codec.labels.encode(utterance.labels))
    except StudioError:
        unknown = next(label for label in utterance.labels if not _known(codec, label))
        raise ValueError(f"label {unknown!r} is not in the model's label set") from None
    if not ids:
        raise ValueError("no label left after folding")
    return ids


def _known(codec: SpeechCodec, label: str) -> bool:
    try:
        codec.labels.fold(label)
    except StudioError:
        return False
    return True


def tag_corpus(
    generator: Generator, utterances: Sequence[Utterance], beam_width: int = 1, progress: Optional[Progress] = None
) -> TaggingResult:
    """Tag every utterance and score it; unreadable audio and unknown labels are skipped and named.

    `progress(fraction, recordings done)` is called after each recording.
    """
    codec = generator.loaded.codec
    assert isinstance(codec, SpeechCodec)
    framewise = generator.loaded.model.loss_kind == "framewise"
    with_frames = framewise and all(u.segments is not None for u in utterances)
    result = TaggingResult(LabelScore(codec.num_labels, "frames" if with_frames else "labels"))
    for done, utterance in enumerate(utterances, 1):
        if progress is not None and done > 1:
            progress((done - 1) / len(utterances), done - 1)
        try:
            reference = _reference(utterance, codec)
            samples, sr = read_audio(utterance.audio)
        except (ValueError, StudioError) as why:
            result.skipped.append((utterance.name, str(why).split(" (")[0][:100]))
            continue
        spans = generator.tag(samples, sample_rate=sr, beam_width=beam_width)
        # As the tagger's own metric: CTC emissions as they come (a blank between two equal labels keeps both).
        hypothesis = [codec.labels.labels.index(label) for label, _, _ in spans]
        if with_frames:
            assert utterance.segments is not None
            n_frames = _frames_in(samples, sr, codec)
            truth = frame_labels(utterance.segments, n_frames, codec.features, codec.labels)
            result.score.add(reference, hypothesis, truth, frames_of(spans, n_frames, codec))
        else:
            result.score.add(reference, hypothesis)
    if progress is not None:
        progress(1.0, len(utterances))
    return result


def evaluate_speech_tagger(generator: Generator, request: EvaluationRequest, folder: Path) -> Evaluation:
    """Label error rate, frame accuracy and the commonest confusions of a tagger on labelled recordings."""
    check_scored_on_data(
        request, "speech_tagging", "labelled recordings (a TIMIT-style folder or a manifest)", split=False
    )
    codec = generator.loaded.codec
    names = list(codec.labels.labels)
    data = read_labelled(request.data)
    with request.progress("recordings") as bar:
        found = tag_corpus(generator, data.utterances, request.beam_width, bar)
    skipped = data.skipped + found.skipped
    score = found.score
    if not score.utterances:
        first = f"{skipped[0][0]} ({skipped[0][1]})" if skipped else "none found"
        raise StudioError(f"--data: none of the {data.total} utterances could be scored, e.g. {first}")
    report = {**score.as_dict(names), "skipped": [{"file": name, "why": why} for name, why in skipped]}
    result = {"checkpoint": str(generator.path), "task": generator.task.name, "tagging": report}
    accuracy = "n/a (CTC tagger or unaligned labels)" if score.frame_accuracy is None else score.frame_accuracy
    rows: list[list[Any]] = [
        ["utterances", score.utterances],
        ["reference labels", score.reference_labels],
        ["label edits", score.edits],
        ["label error rate", score.label_error_rate],
        ["frames", score.counted_frames],
        ["frame accuracy", accuracy],
    ]
    parts = [table(rows, ["tagging", "value"])]
    confused = [[names[ref], names[hyp], count, share] for ref, hyp, count, share in score.most_confused()]
    if confused:
        unit = "frames" if score.confusion_of == "frames" else "aligned labels"
        parts.append(table(confused, ["reference", "predicted", unit, "share of reference"]))
    if skipped:
        parts.append(f"skipped {len(skipped)} utterance(s): " + ", ".join(f"{n} ({w})" for n, w in skipped[:10]))
    picture = folder / "confusion.png"
    confusion_plot(score.confusion, names, f"confusions of {score.confusion_of}", picture)
    return Evaluation(result, "\n\n".join(parts), [picture])
