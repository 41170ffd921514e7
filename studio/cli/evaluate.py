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

from studio.cli.common import OneLineParser, resolve_device
from studio.errors import StudioError


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
    parser.add_argument(
        "--split",
        choices=("val", "test"),
        default=None,
        help="score the run's own held-out split (classification and text tagging), read as its config.yaml reads it",
    )
    parser.add_argument(
        "--config", default=None, help="with --split: the run's config (default: config.yaml beside --ckpt)"
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
    """Score every checkpoint with its task's evaluator, print the tables, write the reports."""
    args = build_parser().parse_args(argv)
    # The frameworks load only once there is work to do (--help needs none of them).
    from studio.cli.evaluate_tables import checkpoint_labels, side_by_side
    from studio.cli.held_out import held_out_split
    from studio.cli.progress import progress_line
    from studio.evaluation.report import write_report
    from studio.evaluation.request import EvaluationRequest, evaluator
    from studio.generation import Generator
    from studio.generation.outputs import SampleFolder

    if not args.data and not args.samples and not args.split:
        raise StudioError("nothing to measure: pass --data FILES, --split test, and/or --samples N --against FILES")
    if args.samples and not args.against:
        raise StudioError("--samples needs --against: the real data the generated samples are compared with")
    device = resolve_device(args.device)
    generators = [Generator.from_checkpoint(path, device) for path in args.ckpt]
    tasks = {g.task.name for g in generators}
    if len(tasks) > 1:
        raise StudioError(
            f"the checkpoints are of different tasks ({', '.join(sorted(tasks))}): compare like with like"
        )
    evaluate = evaluator(generators[0].task.evaluate)
    request = EvaluationRequest(
        data=args.data,
        samples=args.samples,
        against=args.against,
        seconds=args.seconds,
        length=args.length,
        rounds=args.rounds,
        temperature=args.temperature,
        beam_width=args.beam_width,
        seed=args.seed,
        progress=progress_line,
        **held_out_split(args.split, args.config, args.ckpt[0]),
    )
    results = []
    for generator in generators:
        with SampleFolder(args.out_dir, generator.path, args.seed, prefix="eval") as folder:
            assert folder.path is not None
            found = evaluate(generator, request, folder.path)
            write_report(folder.path, found.result, found.images, found.text)
            folder.write_settings({"task": generator.task.name, **vars(args)})
        results.append(found.result)
        print(f"== {generator.path}\n{found.text}\nwrote {folder.path}/report.html")
    if len(generators) > 1:
        for both in side_by_side(checkpoint_labels([g.path for g in generators]), results):
            print("\n" + both)
