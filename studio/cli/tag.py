"""`studio tag`: label audio files with a tagging checkpoint alone; labels with times, printed and written.

For each FILE it writes `<stem>.phn` (`start_sample end_sample label` at the file's own sample rate,
as TIMIT does) and `<stem>.json` under a fresh folder `OUT_DIR/<run>/<time>-seed0/`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.common import OneLineParser, resolve_device
from studio.codecs.speech import read_audio
from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.outputs import SampleFolder
from studio.generation.saving import save_tags


def build_parser() -> argparse.ArgumentParser:
    """The `studio tag` arguments."""
    parser = OneLineParser(prog="studio tag", description="Label audio files with a Studio tagging checkpoint.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, ...) to label")
    parser.add_argument(
        "--ckpt",
        required=True,
        help="checkpoint written by `studio fit` for a tagger, e.g. checkpoints/<run>/best.ckpt",
    )
    parser.add_argument("--out_dir", default="samples", help="outputs go under OUT_DIR/<run>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    parser.add_argument(
        "--beam_width", type=int, default=1, help="CTC prefix beam search width (1: greedy; framewise models ignore it)"
    )
    return parser


def tag_main(argv: list[str]) -> None:
    """Parse arguments, label every file, print the labels and write .phn and .json files."""
    args = build_parser().parse_args(argv)
    if args.beam_width < 1:
        raise StudioError(f"--beam_width {args.beam_width} must be >= 1")
    generator = Generator.from_checkpoint(args.ckpt, resolve_device(args.device), task="tagger")
    if generator.kind != "speech":
        raise StudioError(
            f"{args.ckpt} holds no speech codec, so audio cannot be turned into its input: "
            "pass a checkpoint trained on speech"
        )
    # Read every file before writing anything, so a bad file fails the call without partial outputs.
    clips = [(Path(name), *read_audio(name)) for name in args.files]
    used: set[str] = set()
    loss = generator.loaded.model.hparams.loss
    with SampleFolder(args.out_dir, generator.path, 0) as folder:
        for path, audio, sr in clips:
            spans = generator.tag(audio, sr, args.beam_width)
            stem = _unique(path.stem, used)
            print(f"{path} ({audio.size / sr:.2f} s, {len(spans)} labels, {loss}):")
            for label, start, end in spans:
                print(f"  {start:8.3f} {end:8.3f}  {label}")
            save_tags(folder, stem, str(path), sr, audio.size, generator, args.beam_width, spans)
        folder.write_settings(vars(args))
    print(f"wrote labels of {len(clips)} file(s) to {folder.path}", file=sys.stderr)


def _unique(stem: str, used: set[str]) -> str:
    name, n = stem, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}"
    used.add(name)
    return name
