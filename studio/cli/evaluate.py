"""`studio evaluate`: held-out likelihood of files, and statistics of generated against real data.

    studio evaluate --ckpt RUN/best.ckpt --data held_out/            # NLL per token (and per second for MIDI)
    studio evaluate --ckpt A --ckpt B --data held_out/               # side by side
    studio evaluate --ckpt RUN/best.ckpt --samples 16 --against real/   # generated vs real, per statistic
    studio evaluate --ckpt TAGGER/best.ckpt --data timit/TEST/       # label error rate, frame accuracy, confusions

Writes a table on the terminal, and `evaluation.json` and `report.html` (with a picture per MIDI statistic,
the text statistics' bars, or a tagger's confusion matrix) under `samples/<run>/eval-<time>/`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from studio.cli.common import OneLineParser, resolve_device
from studio.cli.evaluate_tables import checkpoint_labels, side_by_side
from studio.cli.progress import progress_line
from studio.codecs.midi import MidiCodec
from studio.codecs.speech import SpeechCodec
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.evaluation.against import midi_against, text_against
from studio.evaluation.likelihood import MIDI_SUFFIXES, TEXT_SUFFIXES, find_files, midi_likelihood, text_likelihood
from studio.evaluation.report import confusion_plot, statistic_plot, table, text_statistics_plot, write_report
from studio.evaluation.tagging import read_labelled, tag_corpus
from studio.generation import Generator
from studio.generation.outputs import SampleFolder


def build_parser() -> argparse.ArgumentParser:
    """The `studio evaluate` arguments."""
    parser = OneLineParser(prog="studio evaluate", description="Measure Studio checkpoints on data you name.")
    parser.add_argument("--ckpt", action="append", required=True, help="a checkpoint; repeat to compare several")
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        help="files, folders or globs to score; for a tagger, a TIMIT-style folder or a JSONL manifest (repeatable)",
    )
    parser.add_argument("--samples", type=int, default=0, help="generate this many samples to compare with --against")
    parser.add_argument("--against", action="append", default=[], help="real data the samples are compared with")
    parser.add_argument("--seconds", type=float, default=10.0, help="MIDI: length of each generated piece")
    parser.add_argument("--length", type=int, default=500, help="text: tokens per generated sample")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="text: measure R rounds of --samples texts and average each statistic (less sampling noise)",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of --samples (> 0)")
    parser.add_argument("--beam_width", type=int, default=1, help="taggers: CTC prefix beam width (1: greedy)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same samples")
    parser.add_argument("--out_dir", default="samples", help="reports go under OUT_DIR/<run>/eval-<time>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    return parser


def evaluate_main(argv: list[str]) -> None:
    """Score every checkpoint, print the tables, write the reports."""
    args = build_parser().parse_args(argv)
    if not args.data and not args.samples:
        raise StudioError("nothing to measure: pass --data FILES (likelihood) and/or --samples N --against FILES")
    if args.samples and not args.against:
        raise StudioError("--samples needs --against: the real data the generated samples are compared with")
    device = resolve_device(args.device)
    generators = [Generator.from_checkpoint(path, device) for path in args.ckpt]
    kinds = {g.kind for g in generators}
    if len(kinds) > 1:
        raise StudioError(
            f"the checkpoints are of different kinds ({', '.join(sorted(kinds))}): compare like with like"
        )
    if args.rounds != 1 and kinds != {"text"}:
        hint = "; for MIDI, ask for more --samples" if kinds == {"midi"} else ""
        raise StudioError(f"--rounds {args.rounds}: rounds are for text checkpoints, not {', '.join(kinds)}{hint}")
    if kinds == {"speech"} and args.samples:
        raise StudioError("--samples: a tagger generates nothing to compare; pass --data with labelled recordings")
    results: list[dict[str, Any]] = []
    for generator in generators:
        with SampleFolder(args.out_dir, generator.path, args.seed, prefix="eval") as folder:
            assert folder.path is not None
            result, text, images = _evaluate(generator, args, folder.path)
            write_report(folder.path, result, images, text)
            folder.write_settings(vars(args))
        results.append(result)
        print(f"== {generator.path}\n{text}\nwrote {folder.path}/report.html")
    if len(generators) > 1:
        for both in side_by_side(checkpoint_labels([g.path for g in generators]), results):
            print("\n" + both)


def _evaluate(generator: Generator, args: argparse.Namespace, folder: Path) -> tuple[dict[str, Any], str, list[Path]]:
    result: dict[str, Any] = {"checkpoint": str(generator.path), "kind": generator.kind}
    parts: list[str] = []
    images: list[Path] = []
    model, codec = generator.loaded.model, generator.loaded.codec
    if isinstance(codec, SpeechCodec):
        return _evaluate_tagger(generator, args, folder)
    if args.data:
        if isinstance(codec, MidiCodec):
            with progress_line("bytes") as bar:
                found = midi_likelihood(model, codec, find_files(args.data, MIDI_SUFFIXES), bar)
        else:
            assert isinstance(codec, TextCodec)
            with progress_line("bytes") as bar:
                found = text_likelihood(model, codec, find_files(args.data, TEXT_SUFFIXES), bar)
        if not found.files:
            raise StudioError(
                f"--data: none of the files could be scored ({found.skipped[0][1] if found.skipped else 'none'})"
            )
        result["likelihood"] = found.as_dict()
        rows = [[key, value] for key, value in found.as_dict().items() if key != "skipped"]
        parts.append(table(rows, ["held-out likelihood", "value"]))
        if found.skipped:
            parts.append(
                f"skipped {len(found.skipped)} file(s): " + ", ".join(f"{n} ({w})" for n, w in found.skipped[:10])
            )
    if args.samples:
        if isinstance(codec, MidiCodec):
            reference = find_files(args.against, MIDI_SUFFIXES)
            with progress_line("events") as bar:
                comparisons, made, real, skipped = midi_against(
                    generator, args.samples, args.seconds, reference, args.seed, args.temperature, bar
                )
            result["generated_vs_real"] = {name: c.as_dict() for name, c in comparisons.items()}
            rows = [
                [name, c.generated_mean, c.reference_mean, c.overlap, c.kl_divergence, c.generated_overlap]
                for name, c in comparisons.items()
            ]
            parts.append(table(rows, ["statistic", "generated", "real", "overlap", "KL", "overlap (generated side)"]))
            for name in comparisons:
                images.append(folder / f"{name}.png")
                statistic_plot(name, made[name], real[name], images[-1])
            if skipped:
                parts.append(f"skipped {len(skipped)} reference file(s): " + ", ".join(n for n, _ in skipped[:10]))
        else:
            with progress_line("tokens") as bar:
                compared = text_against(
                    generator,
                    args.samples,
                    args.length,
                    find_files(args.against, TEXT_SUFFIXES),
                    args.seed,
                    args.temperature,
                    bar,
                    args.rounds,
                )
            result["generated_vs_real"] = {
                "generated": compared.generated,
                "generated_spread": compared.spread,
                "rounds": compared.rounds,
                "reference": compared.reference,
            }
            images.append(folder / "text_statistics.png")
            text_statistics_plot(compared, images[-1])
            if compared.rounds == 1:
                rows = [[name, compared.generated[name], compared.reference[name]] for name in compared.generated]
                parts.append(table(rows, ["statistic", "generated", "real text"]))
                parts.append("one round of samples: --rounds R measures R rounds and gives each figure's spread")
            else:
                rows = [
                    [name, compared.generated[name], compared.spread[name], compared.reference[name]]
                    for name in compared.generated
                ]
                header = [f"generated (mean of {compared.rounds} rounds)", "sd over rounds"]
                parts.append(table(rows, ["statistic", *header, "real text"]))
    return result, "\n\n".join(parts), images


def _evaluate_tagger(
    generator: Generator, args: argparse.Namespace, folder: Path
) -> tuple[dict[str, Any], str, list[Path]]:
    codec = generator.loaded.codec
    names = list(codec.labels.labels)
    data = read_labelled(args.data)
    with progress_line("recordings") as bar:
        found = tag_corpus(generator, data.utterances, args.beam_width, bar)
    skipped = data.skipped + found.skipped
    score = found.score
    if not score.utterances:
        first = f"{skipped[0][0]} ({skipped[0][1]})" if skipped else "none found"
        raise StudioError(f"--data: none of the {data.total} utterances could be scored, e.g. {first}")
    report = {**score.as_dict(names), "skipped": [{"file": name, "why": why} for name, why in skipped]}
    result = {"checkpoint": str(generator.path), "kind": generator.kind, "tagging": report}
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
    return result, "\n\n".join(parts), [picture]
