"""Speech tagging: a bidirectional tagger labels audio frames, framewise or with CTC (many-to-many)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from studio.generation.requests import check_request, setting
from studio.generation.tasks.record import Task

if TYPE_CHECKING:
    from studio.generation.decoding import Progress
    from studio.generation.inputs import AudioClip
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.outputs import SampleFolder

# A labelled span: (label, start seconds, end seconds).
Span = tuple[str, float, float]


@dataclass(frozen=True, kw_only=True)
class SpeechTagRequest:
    """What a speech tagging request holds besides its clips: the CTC beam and the weight of its label n-gram."""

    beam_width: int = setting(1, "CTC prefix beam search width (1: greedy; framewise models ignore it)", at_least=1)
    lm_weight: float = setting(
        0.0,
        "weight of the checkpoint's label n-gram in CTC beam search (0: off; needs --beam_width > 1 and a model "
        "trained with --data.init_args.lm_order)",
        at_least=0,
    )

    def __post_init__(self) -> None:
        check_request(self)


@dataclass(frozen=True)
class TaggedClip:
    """One clip's labels with start and end seconds, and how they were decoded."""

    clip: AudioClip
    spans: list[Span]
    loss: str
    decoding: str


def run(
    loaded: LoadedCheckpoint, clips: list[AudioClip], request: SpeechTagRequest, progress: Optional[Progress]
) -> list[TaggedClip]:
    """Each clip's labels, in order."""
    from studio.generation.tagging import tag_audio

    loss = str(loaded.model.loss_kind)
    decoding = "prefix beam search" if loss == "ctc" and request.beam_width > 1 else "greedy"
    if request.lm_weight > 0:
        decoding += f" with the label n-gram at weight {request.lm_weight:g}"
    tagged = []
    for i, clip in enumerate(clips):
        tagged.append(
            TaggedClip(
                clip,
                tag_audio(
                    loaded.model, loaded.codec, clip.samples, clip.sample_rate, request.beam_width, request.lm_weight
                ),
                loss,
                decoding,
            )
        )
        if progress is not None:
            progress((i + 1) / len(clips), i + 1)
    return tagged


def save(folder: SampleFolder, tagged: list[TaggedClip], request: SpeechTagRequest) -> list[Path]:
    """`<stem>.phn` (TIMIT's `start_sample end_sample label`) and `<stem>.json` per clip; the .json paths."""
    from studio.generation.tagging import phn_text

    paths: list[Path] = []
    used: set[str] = set()
    for item in tagged:
        clip = item.clip
        stem = unique_stem(Path(clip.name).stem or "clip", used)
        record = {
            "audio": clip.name,
            "sample_rate": clip.sample_rate,
            "duration_s": clip.seconds,
            "ckpt": str(folder.ckpt),
            "loss": item.loss,
            "decoding": item.decoding,
            "beam_width": request.beam_width,
            "lm_weight": request.lm_weight,
            "labels": [{"label": label, "start": start, "end": end} for label, start, end in item.spans],
        }
        folder.write(f"{stem}.phn", phn_text(item.spans, clip.sample_rate).encode("utf-8"))
        paths.append(folder.write(f"{stem}.json", json.dumps(record, indent=2).encode("utf-8")))
    return paths


def unique_stem(stem: str, used: set[str]) -> str:
    """`stem`, or `stem-2`, `stem-3`, ... when already used in this folder."""
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name


def show(tagged: list[TaggedClip], paths: list[Path]) -> list[str]:
    """Per clip: a header line, then a line per label with its start and end."""
    lines = []
    for item in tagged:
        clip = item.clip
        lines.append(f"{clip.name} ({clip.seconds:.2f} s, {len(item.spans)} labels, {item.loss}):")
        lines += [f"  {start:8.3f} {end:8.3f}  {label}" for label, start, end in item.spans]
    return lines


def read_back(folder: Path, files: list[Path], url: Callable[[str], str]) -> dict[str, Any]:
    """The first clip's labels and length (the page tags one clip per request)."""
    labelled = [p for p in files if p.suffix == ".json" and p.name != "settings.json"]
    if not labelled:
        return {"spans": [], "duration": 0.0, "waveform": None}
    tagged = json.loads(labelled[0].read_text(encoding="utf-8"))
    return {"duration": tagged.get("duration_s"), "spans": tagged.get("labels", []), "waveform": None}


def audio_inputs(codec: Any) -> str:
    """Speech taggers are given audio."""
    return "audio"


def loss_unit(codec: Mapping[str, Any], hparams: Mapping[str, Any]) -> str:
    """A tagger's loss is counted per labelled frame, or (CTC) per label of the reference."""
    return "nats per label (CTC)" if hparams.get("loss") == "ctc" else "nats per labelled frame"


SPEECH_TAGGING = Task(
    name="speech_tagging",
    title="speech tagging",
    shape="many-to-many",
    net_path="studio.nets.tagger:TaggerNet",
    codec_kind="speech",
    request=SpeechTagRequest,
    method="tag",
    command="tag",
    noun="labelled clip",
    unit="recordings",
    inputs=audio_inputs,
    run=run,
    save=save,
    show=show,
    read_back=read_back,
    loss_unit=loss_unit,
    evaluate="studio.evaluation.tagging:evaluate_speech_tagger",
    web_limits={"beam_width": 64},
    old_names=("tagger", "speech", "tag", "tagging"),
)
