"""Long-run soak: train the text quickstart with repeated SIGKILL-and-resume cycles.

Reports cycles survived, steps lost per cycle (bounded by the checkpoint interval) and the final
validation loss against an uninterrupted run of the same length and seed. Run it as a script
(`python benchmarks/soak.py --steps 750 --every 25`); the test suite runs a short form through `run_soak`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class SoakReport:
    """What a soak run found."""

    total_steps: int
    checkpoint_every: int
    cycles: int = 0
    lost_steps: list[int] = field(default_factory=list)
    resumed_val_loss: float = float("nan")
    uninterrupted_val_loss: float = float("nan")

    def lines(self) -> list[str]:
        """A readable report."""
        worst = max(self.lost_steps, default=0)
        return [
            f"Soak: {self.total_steps} steps, last.ckpt every {self.checkpoint_every} steps",
            f"  SIGKILL-and-resume cycles survived: {self.cycles}",
            f"  steps lost per cycle: {self.lost_steps} (worst {worst}; bound {self.checkpoint_every}): "
            f"{'MET' if worst <= self.checkpoint_every else 'NOT MET'}",
            f"  final val_loss: resumed run {self.resumed_val_loss:.4f}, uninterrupted run {self.uninterrupted_val_loss:.4f} "
            f"(difference {self.resumed_val_loss - self.uninterrupted_val_loss:+.4f} nats)",
        ]


def _command(fit_args: list[str], run: str, steps: int, every: int, step_file: Path, resume: bool) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "studio",
        *fit_args,
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        f"--run_name={run}",
        f"--trainer.max_steps={steps}",
        f"--last_checkpoint.every_n_steps={every}",
        "--trainer.callbacks+=timing.StepFile",
        f"--trainer.callbacks.path={step_file}",
    ]
    return command + (["--ckpt_path=last"] if resume else [])


def _val_loss(fit_args: list[str], checkpoint: Path, cwd: Path, env: dict) -> float:
    config = checkpoint.parent / "config.yaml"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "validate",
            "--config",
            str(config),
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            f"--ckpt_path={checkpoint}",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    match = re.search(r"val_loss\s*│?\s*([0-9.]+)", result.stdout)
    if result.returncode != 0 or match is None:
        raise RuntimeError(result.stderr[-2000:])
    return float(match.group(1))


def _read_step(path: Path) -> Optional[int]:
    try:
        return int(path.read_text())
    except (OSError, ValueError):  # not written yet, or caught mid-write
        return None


def run_soak(
    fit_args: list[str], workdir: Path, total_steps: int, every: int, seed: int = 0, env: Optional[dict] = None
) -> SoakReport:
    """Kill the run at random moments until it reaches `total_steps`, then compare with an uninterrupted run."""
    env = dict(env or os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    rng = random.Random(seed)
    report = SoakReport(total_steps, every)
    step_file = workdir / "step"
    last = workdir / "checkpoints" / "soak" / "last.ckpt"
    while True:
        step_file.unlink(missing_ok=True)
        process = subprocess.Popen(
            _command(fit_args, "soak", total_steps, every, step_file, last.exists()),
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        # Kill after a random number of trained steps, at least one checkpoint interval, so every cycle
        # can make progress; start-up time never counts.
        budget, first = rng.randint(every, 3 * every), None
        while process.poll() is None:
            step = _read_step(step_file)
            if step is not None:
                first = step if first is None else first
                if step - first + 1 >= budget:
                    break
            time.sleep(0.01)
        if process.poll() is not None:
            stderr = process.communicate()[1]
            if process.returncode != 0:
                raise RuntimeError(stderr[-2000:])
            break
        process.send_signal(signal.SIGKILL)
        process.communicate()
        reached = _read_step(step_file) or 0
        saved = torch.load(last, weights_only=True)["global_step"] if last.exists() else 0
        report.cycles += 1
        report.lost_steps.append(max(reached - saved, 0))
    subprocess.run(
        _command(fit_args, "straight", total_steps, every, step_file, False),
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        timeout=3600,
    )
    report.resumed_val_loss = _val_loss(fit_args, last, workdir, env)
    report.uninterrupted_val_loss = _val_loss(
        fit_args, workdir / "checkpoints" / "straight" / "last.ckpt", workdir, env
    )
    return report


def main() -> None:
    """Soak the text quickstart for `--steps` training steps, killed and resumed along the way."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--steps",
        type=int,
        default=750,
        help="total training steps (the quickstart's own 750 take about 80 s on 2 CPU cores)",
    )
    parser.add_argument("--every", type=int, default=25, help="refresh last.ckpt every N steps")
    args = parser.parse_args()
    workdir = Path("/tmp/studio-soak")
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    fit_args = [
        "fit",
        "--config",
        str(ROOT / "configs/text/quickstart.yaml"),
        "--trainer.max_time=null",
        "--trainer.callbacks=[]",
    ]
    report = run_soak(fit_args, workdir, args.steps, args.every)
    sys.path.insert(0, str(HERE))
    from timing import report as write_report

    write_report("soak", report.lines(), report.__dict__)


if __name__ == "__main__":
    main()
