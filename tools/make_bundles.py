"""Train the bundled models from tools/bundles.yaml and write them into studio/bundles/<name>/.

For each recipe: `studio fit` with its preset and seed (in a fresh folder, with its own cache); the best
checkpoint is scored with `studio test` on the preset's held-out split in float32, then with its weights
rounded to float16; the float16 weights are kept when the held-out loss moves by at most 0.01 nats
(else float32). The bundle keeps only what inference needs (weights, hyper-parameters, the `studio`
entry with the codec), beside a card: task, data, recipe, seed, steps, training time, code version,
codec digest, size and the held-out figures.

    python tools/make_bundles.py                 # every bundle (about 15 minutes on two cores)
    python tools/make_bundles.py six-languages   # one
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
BUNDLES = ROOT / "studio" / "bundles"
RECIPES = ROOT / "tools" / "bundles.yaml"
FLOAT16_TOLERANCE = 0.01
KEPT = ("studio", "state_dict", "hyper_parameters")


def code_version() -> str:
    """The commit the bundle was made with (and whether the tree had changes)."""
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    paths = ["studio", "datamodules", "configs", ":!studio/bundles"]  # the bundles being written are not code
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True, text=True
    ).stdout
    return head + ("+changes" if dirty.strip() else "")


def held_out(preset: Path, weights: dict[str, torch.Tensor], work: Path) -> dict[str, float]:
    """`studio test` figures of the preset's held-out split for the model with `weights`."""
    from studio.cli.fit import StudioCLI

    cwd = os.getcwd()
    os.chdir(work)
    try:
        cli = StudioCLI(
            args=["--config", str(preset), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"],
            run=False,
        )
        cli.model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
        results = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)
    finally:
        os.chdir(cwd)
    return {key.removeprefix("test_"): float(value) for key, value in results[0].items()}


def build(name: str, recipe: dict[str, Any]) -> None:
    """Train, score and write one bundle."""
    preset = ROOT / recipe["preset"]
    with tempfile.TemporaryDirectory(prefix=f"studio-bundle-{name}-") as folder:
        work = Path(folder)
        env = dict(os.environ, STUDIO_CACHE=str(work / "cache"), WANDB_MODE="disabled")
        os.environ["STUDIO_CACHE"] = env["STUDIO_CACHE"]
        fit = [
            *[str(Path(sys.executable).with_name("studio")), "fit", "--config", str(preset), "--run_name", name],
            *[
                "--seed_everything",
                str(recipe["seed"]),
                "--trainer.logger",
                "false",
                "--trainer.enable_progress_bar",
                "false",
            ],
            *recipe.get("args", []),
        ]
        started = time.monotonic()
        subprocess.run(fit, cwd=work, env=env, check=True)
        seconds = time.monotonic() - started
        run = work / "checkpoints" / name
        checkpoint = torch.load(
            run / ("best.ckpt" if (run / "best.ckpt").is_file() else "last.ckpt"), map_location="cpu", weights_only=True
        )
        full = held_out(preset, checkpoint["state_dict"], work)
        half_weights = {k: v.half() if v.is_floating_point() else v for k, v in checkpoint["state_dict"].items()}
        half = held_out(preset, half_weights, work)
        use_half = abs(half["loss"] - full["loss"]) <= FLOAT16_TOLERANCE
        bundle = {key: checkpoint[key] for key in KEPT}
        bundle["state_dict"] = half_weights if use_half else checkpoint["state_dict"]
        target = BUNDLES / name
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        torch.save(bundle, target / "model.ckpt")
        data = (target / "model.ckpt").read_bytes()
        codec = json.dumps(checkpoint["studio"]["codec"], sort_keys=True).encode()
        card = {
            "name": name,
            "task": checkpoint["studio"]["task"],
            "data": recipe["data"],
            "preset": recipe["preset"],
            "seed": recipe["seed"],
            "args": recipe.get("args", []),
            "steps": int(checkpoint.get("global_step", 0)),
            "train_seconds": round(seconds, 1),
            "trained_on": f"{os.cpu_count()} CPU cores",
            "code_version": code_version(),
            "codec_sha256": hashlib.sha256(codec).hexdigest(),
            "weights": "float16" if use_half else "float32",
            "float16_loss_change": round(half["loss"] - full["loss"], 6),
            "size_mb": round(len(data) / 1e6, 2),
            "sha256": hashlib.sha256(data).hexdigest(),
            "held_out": {key: round(value, 4) for key, value in (half if use_half else full).items()},
            "measured_by": "studio test on the preset's held-out split (test split, or validation where there is none)",
        }
        (target / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
        print(f"{name}: {card['size_mb']} MB, {card['weights']}, held out {card['held_out']}", flush=True)


def main() -> None:
    recipes = yaml.safe_load(RECIPES.read_text(encoding="utf-8"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"bundles to build (default: all of {', '.join(recipes)})")
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(recipes))
    if unknown:
        parser.error(f"no recipe {unknown[0]!r}: the recipes are {', '.join(recipes)}")
    for name in args.names or list(recipes):
        build(name, recipes[name])


if __name__ == "__main__":
    main()
