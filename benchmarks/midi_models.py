"""The MIDI model a benchmark samples from: a checkpoint, or the MIDI quickstart preset trained as shipped."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]


def quickstart_model(ckpt: Optional[str], *overrides: str, name: str = "bench-midi"):
    """(model, codec, description): loaded from `ckpt` (a file or a bundle, e.g. bach-chorales), else
    `configs/midi/quickstart.yaml` + `overrides` trained here."""
    if ckpt:
        from studio.generation import Generator

        loaded = Generator.from_checkpoint(ckpt, task="midi").loaded
        return loaded.model, loaded.codec, f"loaded from {ckpt}"
    from studio.cli.fit import StudioCLI

    run_dir = Path(tempfile.gettempdir()) / f"studio-{name}"
    shutil.rmtree(run_dir, ignore_errors=True)
    cli = StudioCLI(
        args=[
            "fit",
            "--config",
            str(ROOT / "configs/midi/quickstart.yaml"),
            *overrides,
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.callbacks=[]",
            f"--checkpoint.dirpath={run_dir}",
            f"--run_name={name}",
        ]
    )
    shown = " ".join(overrides)
    about = f"configs/midi/quickstart.yaml{' ' + shown if shown else ''} trained here, {cli.trainer.global_step} steps"
    return cli.model.cpu().eval(), cli.datamodule.codec, about
