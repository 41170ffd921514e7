"""`studio tag`: label audio files with a tagging checkpoint alone; labels with times, printed and written.

For each FILE it writes `<stem>.phn` (`start_sample end_sample label` at the file's own sample rate,
as TIMIT does) and `<stem>.json` under a fresh folder `OUT_DIR/<run>/<time>-seed0/`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from studio.checkpoint import load_for_inference
from studio.codecs.speech import SpeechCodec, read_audio
from studio.errors import StudioError
from studio.paths import atomic_write_bytes
from studio.sample_cli import OneLineParser, resolve_device, output_folder

# A labelled span: (label, start seconds, end seconds).
Span = tuple[str, float, float]


def build_parser() -> argparse.ArgumentParser:
    """The `studio tag` arguments."""
    parser = OneLineParser(prog="studio tag", description="Label audio files with a Studio tagging checkpoint.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, ...) to label")
    parser.add_argument("--ckpt", required=True, help="checkpoint written by `studio fit` for a tagger, e.g. checkpoints/<run>/best.ckpt")
    parser.add_argument("--out_dir", default="samples", help="outputs go under OUT_DIR/<run>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    parser.add_argument("--beam_width", type=int, default=1, help="CTC prefix beam search width (1: greedy; framewise models ignore it)")
    return parser


def tag_main(argv: list[str]) -> None:
    """Parse arguments, label every file, print the labels and write .phn and .json files."""
    args = build_parser().parse_args(argv)
    if args.beam_width < 1:
        raise StudioError(f"--beam_width {args.beam_width} must be >= 1")
    device = resolve_device(args.device)
    loaded = load_for_inference(args.ckpt, "tagger", device)
    codec = loaded.codec
    if not isinstance(codec, SpeechCodec):
        raise StudioError(f"{args.ckpt} holds no speech codec, so audio cannot be turned into its input: pass a checkpoint trained on speech")
    # Read every file before writing anything, so a bad file fails the call without partial outputs.
    clips = [(Path(name), *read_audio(name)) for name in args.files]
    folder = output_folder(Path(args.out_dir), loaded.path, 0)
    used: set[str] = set()
    for path, audio, sr in clips:
        spans = tag_audio(loaded.model, codec, audio, sr, args.beam_width)
        stem = _unique(path.stem, used)
        print(f"{path} ({audio.size / sr:.2f} s, {len(spans)} labels, {loaded.model.hparams.loss}):")
        for label, start, end in spans:
            print(f"  {start:8.3f} {end:8.3f}  {label}")
        atomic_write_bytes(folder / f"{stem}.phn", phn_text(spans, sr).encode("utf-8"))
        record = _record(path, sr, audio.size, loaded, args.beam_width, spans)
        atomic_write_bytes(folder / f"{stem}.json", json.dumps(record, indent=2).encode("utf-8"))
    print(f"wrote labels of {len(clips)} file(s) to {folder}", file=sys.stderr)


def tag_audio(model: Any, codec: SpeechCodec, audio: Any, sr: int, beam_width: int = 1) -> list[Span]:
    """Labels of one clip with start and end times in seconds (framewise: merged runs; CTC: emitting frames)."""
    frames = codec.encode_audio(audio, sr)
    if frames.shape[0] == 0:
        return []
    device = next(model.parameters()).device
    found = model.emissions(torch.from_numpy(frames).to(device), beam_width)
    # Framewise runs tile the clip, so the first and last stretch out to its edges; CTC spikes stay where they are.
    edges = (frames.shape[0], audio.size / sr) if model.hparams.loss == "framewise" else None
    return [(codec.labels.labels[label], *frame_span(codec, first, end, edges)) for label, first, end in found]


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


def _record(path: Path, sr: int, n_samples: int, loaded: Any, beam_width: int, spans: list[Span]) -> dict[str, Any]:
    hparams = loaded.model.hparams
    decoding = "prefix beam search" if hparams.loss == "ctc" and beam_width > 1 else "greedy"
    return {
        "audio": str(path),
        "sample_rate": sr,
        "duration_s": n_samples / sr,
        "ckpt": str(loaded.path),
        "loss": hparams.loss,
        "decoding": decoding,
        "beam_width": beam_width,
        "labels": [{"label": label, "start": start, "end": end} for label, start, end in spans],
    }


def _unique(stem: str, used: set[str]) -> str:
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name
