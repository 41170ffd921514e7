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
    parser.add_argument("--length", type=int, default=500, help="tokens to generate per sample")
    parser.add_argument("--num_samples", type=int, default=1, help="samples generated together in one batch")
    parser.add_argument("--temperature", type=float, default=1.0, help="> 0; lower is safer, higher is wilder")
    parser.add_argument("--top_k", type=int, default=0, help="keep only the k likeliest tokens (0: off)")
    parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling mass in (0, 1] (1: off)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples")
    parser.add_argument("--out_dir", default="samples", help="outputs go under OUT_DIR/<run>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    return parser


def sample_main(argv: list[str]) -> None:
    """Parse arguments, generate, print and write the samples."""
    args = build_parser().parse_args(argv)
    settings = SamplingSettings(args.temperature, args.top_k, args.top_p)
    if args.length <= 0:
        raise StudioError(f"--length {args.length} must be > 0")
    if args.num_samples <= 0:
        raise StudioError(f"--num_samples {args.num_samples} must be > 0")
    device = _device(args.device)
    loaded = load_for_inference(args.ckpt, "language_model", device)
    codec = loaded.codec
    if codec is None or codec.kind != "text":
        raise StudioError(f"{args.ckpt} is a {getattr(codec, 'kind', 'unknown')} checkpoint: text sampling needs a text checkpoint")
    texts = sample_text(loaded.model, codec, args.prompt, args.length, args.num_samples, settings, args.seed)
    folder = output_folder(Path(args.out_dir), loaded.path, args.seed)
    for i, text in enumerate(texts, 1):
        print(f"----- sample {i} -----\n{text}")
        atomic_write_bytes(folder / f"sample_{i}.txt", text.encode("utf-8"))
    settings_record = {"ckpt": str(loaded.path), "prompt": args.prompt, "length": args.length, "num_samples": args.num_samples,
                       "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed}
    atomic_write_bytes(folder / "settings.json", json.dumps(settings_record, indent=2).encode())
    print(f"wrote {len(texts)} sample(s) to {folder}", file=sys.stderr)


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


def _device(name: str) -> str:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(f"--device {name} asked for a GPU but none is available: use --device cpu")
    return name
