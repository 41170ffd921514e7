"""`studio models`: the models bundled with Studio, each with its card (task, data, recipe, size, held-out figures)."""

from __future__ import annotations

import argparse
import json

from studio.cli.common import OneLineParser


def build_parser() -> argparse.ArgumentParser:
    """The `studio models` arguments."""
    parser = OneLineParser(prog="studio models", description="List the models bundled with Studio, or show one's card.")
    parser.add_argument("name", nargs="?", default=None, help="a bundled model: print its whole card (JSON)")
    return parser


def models_main(argv: list[str]) -> None:
    """Print one line per bundle, or one bundle's whole card."""
    args = build_parser().parse_args(argv)
    from studio.generation.references import bundle_names, model_card

    if args.name is not None:
        print(json.dumps(model_card(args.name), indent=2))
        return
    names = bundle_names()
    if not names:
        print("no models are bundled with this install: `make bundles` trains them")
        return
    for name in names:
        card = model_card(name)
        figures = ", ".join(
            f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
            for key, value in card.get("held_out", {}).items()
        )
        print(f"{name:<18} {card.get('task', '?'):<15} {card.get('size_mb', 0):5.1f} MB  {card.get('data', '')}")
        if figures:
            print(f"{'':<18} held out: {figures}")
    print("use one with --ckpt NAME (studio sample, tag, classify, evaluate; studio fit --init_from NAME)")
