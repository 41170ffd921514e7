"""`studio sample`: generate text or MIDI from a checkpoint alone (the codec travels inside it).

A thin shell over `studio.generation.Generator`: it parses the flags, generates, prints, and saves
the samples and a `settings.json` under `samples/<run>/<time>-seed<seed>/`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TypeVar

from studio.cli.common import OneLineParser, resolve_device
from studio.cli.progress import ProgressBar
from studio.codecs.midi.controls import parse_pitch_weights
from studio.errors import StudioError
from studio.generation import BeamSettings, GenerationInterrupted, Generator
from studio.generation.outputs import SampleFolder
from studio.generation.saving import save_pieces, save_texts
from studio.generation.text import DEFAULT_LENGTH

T = TypeVar("T")
MIDI_FLAGS = (
    "seconds",
    "primer",
    "notes_per_second",
    "pitch_class_histogram",
    "beam_size",
    "branch_factor",
    "steps_per_iteration",
)


def build_parser() -> argparse.ArgumentParser:
    """The `studio sample` arguments."""
    parser = OneLineParser(prog="studio sample", description="Generate text or MIDI from a Studio checkpoint.")
    parser.add_argument(
        "--ckpt", required=True, help="checkpoint written by `studio fit`, e.g. checkpoints/<run>/last.ckpt"
    )
    parser.add_argument("--prompt", default=None, help="text to continue (text checkpoints); default: a newline")
    parser.add_argument(
        "--length", type=int, default=None, help="tokens (text) or events (MIDI) per sample; text default 500"
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="MIDI: length of each piece in seconds (default 30)"
    )
    parser.add_argument("--primer", default=None, help="MIDI: a .mid file the pieces begin with and continue")
    parser.add_argument("--max_note_seconds", type=float, default=5.0, help="MIDI: no note sounds longer than this")
    parser.add_argument(
        "--notes_per_second",
        type=float,
        default=None,
        help="MIDI, models trained with the density control: the note density to aim for",
    )
    parser.add_argument(
        "--pitch_class_histogram",
        type=pitch_weights,
        default=None,
        help="MIDI, models trained with the pitch control: 12 weights for C, C#, ... B, "
        "e.g. '[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]' (C major)",
    )
    parser.add_argument(
        "--beam_size",
        type=int,
        default=1,
        help="MIDI: beams kept per piece (1, with --branch_factor 1: plain sampling)",
    )
    parser.add_argument("--branch_factor", type=int, default=1, help="MIDI: sampled copies of each beam per iteration")
    parser.add_argument("--steps_per_iteration", type=int, default=1, help="MIDI: events sampled between prunings")
    parser.add_argument("--no_render", action="store_true", help="MIDI: skip the .wav and .png renderings")
    parser.add_argument("--num_samples", type=int, default=1, help="samples generated together in one batch")
    parser.add_argument("--temperature", type=float, default=1.0, help="> 0; lower is safer, higher is wilder")
    parser.add_argument("--top_k", type=int, default=0, help="keep only the k likeliest tokens (0: off)")
    parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling mass in (0, 1] (1: off)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples")
    parser.add_argument("--out_dir", default="samples", help="outputs go under OUT_DIR/<run>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    return parser


def pitch_weights(text: str) -> list[float]:
    """Twelve numbers, written '[2, 0, 1, ...]' or '2,0,1,...'."""
    try:
        return parse_pitch_weights(text)
    except StudioError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def sample_main(argv: list[str]) -> None:
    """Parse arguments, generate, print and write the samples."""
    parser = build_parser()
    args = parser.parse_args(argv)
    generator = Generator.from_checkpoint(args.ckpt, resolve_device(args.device), task="language_model")
    if generator.kind == "midi":
        sample_midi(generator, args)
    elif generator.kind == "text":
        for flag in MIDI_FLAGS:
            if getattr(args, flag) not in (None, parser.get_default(flag)):
                raise StudioError(
                    f"{args.ckpt} is a text checkpoint: --{flag} applies to MIDI checkpoints; use --length and --prompt"
                )
        sample_text(generator, args)
    else:
        raise StudioError(
            f"{args.ckpt} has no text or MIDI codec: pass a checkpoint trained by `studio fit` on text or MIDI"
        )


def sample_text(generator: Generator, args: argparse.Namespace) -> None:
    """Generate texts, print them and save them as sample_N.txt."""
    length = DEFAULT_LENGTH if args.length is None else args.length
    # The folder is made first, so an output folder that cannot be written fails before any work.
    with SampleFolder(args.out_dir, generator.path, args.seed) as folder:
        texts, interrupted = interruptible(
            lambda bar: generator.text(
                args.prompt, length, args.num_samples, args.temperature, args.top_k, args.top_p, args.seed, bar
            ),
            "tokens",
        )
        for i, text in enumerate(texts, 1):
            print(f"----- sample {i} -----\n{text}")
        save_texts(folder, texts)
        folder.write_settings({**vars(args), "interrupted": interrupted})
    finish(f"{len(texts)} sample(s)", folder, interrupted)


def sample_midi(generator: Generator, args: argparse.Namespace) -> None:
    """Generate pieces, print a line per piece, save .mid (and .wav, .png) files."""
    if args.prompt is not None:
        raise StudioError(f"{args.ckpt} is a MIDI checkpoint: --prompt applies to text; use --primer FILE.mid")
    beam = BeamSettings(args.beam_size, args.branch_factor, args.steps_per_iteration)
    with SampleFolder(args.out_dir, generator.path, args.seed) as folder:
        pieces, interrupted = interruptible(
            lambda bar: generator.midi(
                args.seconds,
                args.length,
                args.num_samples,
                args.temperature,
                args.top_k,
                args.top_p,
                args.seed,
                args.primer,
                args.max_note_seconds,
                args.notes_per_second,
                args.pitch_class_histogram,
                beam,
                bar,
            ),
            "events",
        )
        paths, renderers = save_pieces(folder, pieces, render=not args.no_render)
        for path, piece in zip(paths, pieces):
            print(f"{path}  {piece.seconds:.1f} s  {piece.notes} notes")
        folder.write_settings({**vars(args), "interrupted": interrupted})
    rendered = f", rendered with {'/'.join(sorted(renderers))}" if renderers else " (not rendered)"
    finish(f"{len(pieces)} piece(s)", folder, interrupted, rendered)


def interruptible(work: Callable[[ProgressBar], list[T]], unit: str) -> tuple[list[T], bool]:
    """Run `work` with a progress bar; on Ctrl-C, what it had generated so far and True."""
    bar = ProgressBar(unit)
    try:
        return work(bar), False
    except GenerationInterrupted as stop:
        return list(stop.partial), True
    finally:
        bar.close()


def finish(what: str, folder: SampleFolder, interrupted: bool, note: str = "") -> None:
    """Say where the outputs went; an interrupted generation exits with status 130 after saving them."""
    if interrupted:
        print(
            f"studio: interrupted: wrote {what} generated so far to {folder.path} (marked interrupted)", file=sys.stderr
        )
        sys.exit(130)
    print(f"wrote {what} to {folder.path}{note}", file=sys.stderr)
