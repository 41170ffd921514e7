"""Labels with times for a clip of audio, from a tagging model: framewise runs or CTC emissions."""

from __future__ import annotations

from typing import Any

import torch

from studio.codecs.speech import SpeechCodec
from studio.errors import StudioError
from studio.generation.tasks.speech_tagging import Span
from studio.resources import check_memory


def tag_audio(
    model: Any, codec: SpeechCodec, audio: Any, sr: int, beam_width: int = 1, lm_weight: float = 0.0
) -> list[Span]:
    """Labels of one clip with start and end times in seconds (framewise: merged runs; CTC: emitting frames).

    The codec's features (with its global CMVN statistics, when the model was trained with them) go in;
    `lm_weight` > 0 adds the codec's label n-gram to the CTC prefix beam search.
    """
    check_lm(model, codec, beam_width, lm_weight)
    frames = codec.encode_audio(audio, sr)
    if frames.shape[0] == 0:
        return []
    if beam_width > 1 and model.loss_kind == "ctc":
        # Each kept prefix holds up to one label and one step per frame, and each frame tries every label.
        needed = beam_width * codec.num_labels * frames.shape[0] * 16
        check_memory(
            f"--beam_width {beam_width} on {frames.shape[0]} frames", needed, "use a smaller --beam_width, e.g. 8"
        )
    device = next(model.parameters()).device
    lm = codec.lm if lm_weight > 0 else None
    found = model.emissions(torch.from_numpy(frames).to(device), beam_width, lm, lm_weight)
    # Framewise runs tile the clip, so the first and last stretch out to its edges; CTC spikes stay where they are.
    edges = (frames.shape[0], audio.size / sr) if model.loss_kind == "framewise" else None
    return [(codec.labels.labels[label], *frame_span(codec, first, end, edges)) for label, first, end in found]


def check_lm(model: Any, codec: SpeechCodec, beam_width: int, lm_weight: float) -> None:
    """A one-line error when `lm_weight` asks for a label n-gram the decoding cannot use."""
    if lm_weight <= 0:
        return
    if model.loss_kind != "ctc" or beam_width < 2:
        raise StudioError(f"--lm_weight {lm_weight:g} works in CTC beam search only: add --beam_width 8 (CTC models)")
    if codec.lm is None:
        raise StudioError(
            f"--lm_weight {lm_weight:g}: this checkpoint holds no label n-gram; train it with "
            "--data.init_args.lm_order 3, or leave --lm_weight at 0"
        )


def frame_span(codec: SpeechCodec, first: int, end: int, edges: tuple[int, float] | None = None) -> tuple[float, float]:
    """Seconds covered by frames first..end-1 (each frame owns one hop around its window's centre).

    With `edges` = (frames in the clip, clip seconds), runs at the clip's start or end reach its edges.
    """
    settings = codec.features
    hop, win = settings.hop_length / settings.sample_rate, settings.win_length / settings.sample_rate
    start = max(0.0, first * hop + (win - hop) / 2)
    stop = end * hop + (win - hop) / 2
    if edges is not None:
        n_frames, duration = edges
        start = 0.0 if first == 0 else start
        stop = duration if end >= n_frames else min(stop, duration)
    return round(start, 6), round(max(stop, start), 6)


def phn_text(spans: list[Span], sr: int) -> str:
    """TIMIT `.phn` lines: start and end sample (at `sr`) and the label."""
    return "".join(f"{int(round(start * sr))} {int(round(end * sr))} {label}\n" for label, start, end in spans)
