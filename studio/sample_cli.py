"""`studio sample`: generate from a checkpoint alone (the codec travels inside it)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import NoReturn, Optional

import torch

from studio.checkpoint import load_for_inference
from studio.errors import StudioError
from studio.paths import atomic_write_bytes
from studio.sampling import SamplingSettings, generate


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line with the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print `studio <cmd>: error: <message>` and exit 2."""
        raise StudioError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    """The `studio sample` arguments."""
    parser = OneLineParser(prog="studio sample", description="Generate text or MIDI from a Studio checkpoint.")
    parser.add_argument("--ckpt", required=True, help="checkpoint written by `studio fit`, e.g. checkpoints/<run>/last.ckpt")
    parser.add_argument("--prompt", default=None, help="text to continue (text checkpoints); default: a newline")
    parser.add_argument("--length", type=int, default=None, help="tokens (text) or events (MIDI) per sample; text default 500")
    parser.add_argument("--seconds", type=float, default=None, help="MIDI: length of each piece in seconds (default 30)")
    parser.add_argument("--primer", default=None, help="MIDI: a .mid file the pieces begin with and continue")
    parser.add_argument("--max_note_seconds", type=float, default=5.0, help="MIDI: no note sounds longer than this")
    parser.add_argument("--notes_per_second", type=float, default=None,
                        help="MIDI, models trained with the density control: the note density to aim for")
    parser.add_argument("--pitch_class_histogram", type=pitch_weights, default=None,
                        help="MIDI, models trained with the pitch control: 12 weights for C, C#, ... B, "
                             "e.g. '[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]' (C major)")
    parser.add_argument("--beam_size", type=int, default=1, help="MIDI: beams kept per piece (1, with --branch_factor 1: plain sampling)")
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
        weights = [float(part) for part in text.strip().strip("[]").split(",")]
    except ValueError:
        weights = []
    if len(weights) != 12:
        raise argparse.ArgumentTypeError(f"{text!r} is not 12 comma-separated numbers (C, C#, ... B)")
    return weights


def sample_main(argv: list[str]) -> None:
    """Parse arguments, generate, print and write the samples."""
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = SamplingSettings(args.temperature, args.top_k, args.top_p)
    if args.num_samples <= 0:
        raise StudioError(f"--num_samples {args.num_samples} must be > 0")
    device = resolve_device(args.device)
    loaded = load_for_inference(args.ckpt, "language_model", device)
    kind = getattr(loaded.codec, "kind", None)
    if kind == "midi":
        from studio.sample_midi import sample_midi_main

        sample_midi_main(args, loaded, settings)
        return
    if kind != "text":
        raise StudioError(f"{args.ckpt} has no text or MIDI codec: pass a checkpoint trained by `studio fit` on text or MIDI")
    for flag in ("seconds", "primer", "notes_per_second", "pitch_class_histogram", "beam_size", "branch_factor",
                 "steps_per_iteration"):
        if getattr(args, flag) not in (None, parser.get_default(flag)):
            raise StudioError(f"{args.ckpt} is a text checkpoint: --{flag} applies to MIDI checkpoints; use --length and --prompt")
    length = 500 if args.length is None else args.length
    if length <= 0:
        raise StudioError(f"--length {length} must be > 0")
    texts = sample_text(loaded.model, loaded.codec, args.prompt, length, args.num_samples, settings, args.seed)
    folder = output_folder(Path(args.out_dir), loaded.path, args.seed)
    for i, text in enumerate(texts, 1):
        print(f"----- sample {i} -----\n{text}")
        atomic_write_bytes(folder / f"sample_{i}.txt", text.encode("utf-8"))
    write_settings(folder, args)
    print(f"wrote {len(texts)} sample(s) to {folder}", file=sys.stderr)


def write_settings(folder: Path, args: argparse.Namespace) -> None:
    """Record the command's arguments beside its outputs."""
    atomic_write_bytes(folder / "settings.json", json.dumps(vars(args), indent=2).encode())


def sample_text(model: torch.nn.Module, codec, prompt: Optional[str], length: int, num_samples: int, settings: SamplingSettings, seed: int) -> list[str]:
    """Continue `prompt` (default: a newline) `num_samples` times; each text starts with the prompt."""
    prompt = "\n" if prompt is None or prompt == "" else prompt
    unknown = codec.unknown_characters(prompt)
    if unknown:
        shown = "".join(unknown)
        raise StudioError(f"--prompt has characters the model never saw ({shown!r}): remove them or train on a corpus that has them")
    rows = generate(model, codec.encode(prompt), length, num_samples, settings, seed)
    return [prompt + codec.decode(row) for row in rows]


def output_folder(root: Path, ckpt: Path, seed: int) -> Path:
    """A new folder `root/<run>/<time>-seed<seed>` so earlier samples are never overwritten."""
    base = root / ckpt.resolve().parent.name / f"{time.strftime('%Y%m%d-%H%M%S')}-seed{seed}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    folder.mkdir(parents=True)
    return folder


def resolve_device(name: str) -> str:
    """The torch device name to run on; a GPU asked for where there is none is a clear error."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(f"--device {name} asked for a GPU but none is available: use --device cpu")
    return name
