"""Learning efficiency: the CPU text preset vs a plain PyTorch 2x256 LSTM loop, each given 80 seconds.

Bar: on an English corpus, `studio fit --config configs/text/quickstart.yaml` (its model and
optimisation settings) given 80 s through `--trainer.max_time` alone (no step limit, so the learning-rate
schedule is laid over the time budget) reaches a validation loss at least MARGIN nats/char lower than a
hand-written loop in the style of common char-RNN scripts: random windows of 64 characters, batch 32,
Adam at 2e-3, clipping at 5. Both get the same wall-clock budget in the same run and are scored by the same evaluator: one
stateful pass over the same validation split (the preset's held-out share of the corpus). The corpus is the embedded `english` corpus (Lady Susan
and the Python language reference, about 0.6 MB).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import RandomWindows, plain_training_loop, preset_data, report, stateful_eval_loss

from datamodules import TextDataModule
from datamodules.streams import StreamBatches
from studio.cli.fit import StudioCLI
from studio.models import RecurrentLanguageModel

BUDGET_S, CORPUS, MARGIN = 80, "english", 0.05
ROOT = Path(__file__).resolve().parents[1]
RUN_DIR = Path("/tmp/studio-bench-efficiency")


def evaluator(data: TextDataModule) -> StreamBatches:
    return StreamBatches(data.split()[1], 8, 128)


def studio_preset(*extra: str) -> tuple[float, int]:
    """Train with the quickstart preset for BUDGET_S seconds (no step limit) on CORPUS; its final model's
    score, and the steps it took."""
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    cli = StudioCLI(
        args=[
            "fit",
            "--config",
            str(ROOT / "configs/text/quickstart.yaml"),
            f"--data.init_args.corpus={CORPUS}",
            f"--trainer.max_time=00:00:00:{BUDGET_S}",
            "--trainer.max_steps=-1",
            "--trainer.logger=false",
            "--trainer.enable_progress_bar=false",
            "--trainer.callbacks=[]",
            f"--checkpoint.dirpath={RUN_DIR}",
            "--run_name=bench-efficiency",
            *extra,
        ]
    )
    return stateful_eval_loss(cli.model.cpu(), evaluator(cli.datamodule)), cli.trainer.global_step


def plain_loop() -> tuple[float, int]:
    """The hand-written baseline for the same budget, scored by the same evaluator; and the steps it took."""
    torch.manual_seed(0)
    data = TextDataModule(corpus=CORPUS, val_fraction=preset_data("text")["val_fraction"])  # the preset's split
    model = RecurrentLanguageModel(vocab_size=data.codec.vocab_size, embedding_dim=64, hidden_size=256, num_layers=2)
    done = plain_training_loop(
        model,
        RandomWindows(torch.from_numpy(data.split()[0].astype(np.int64)), 32, 64, seed=0),
        lr=2e-3,
        clip=5.0,
        max_steps=10**9,
        stateful=False,
        time_budget=BUDGET_S,
    )
    return stateful_eval_loss(model, evaluator(data)), done["steps"]


def main() -> None:
    """Run both for the same budget and report their validation losses."""
    start = time.perf_counter()
    baseline, baseline_steps = plain_loop()
    preset, preset_steps = studio_preset()
    lines = [
        f"Learning efficiency on the `{CORPUS}` corpus, {BUDGET_S} s of training each (CPU), validation loss in nats/char",
        f"  plain PyTorch 2x256 LSTM loop (random windows, Adam 2e-3): {baseline:.3f} ({baseline_steps} steps)",
        f"  studio fit, configs/text/quickstart.yaml, --trainer.max_time only: {preset:.3f} ({preset_steps} steps)",
        f"  preset lower than the plain loop by >= {MARGIN}: {'MET' if baseline - preset >= MARGIN else 'NOT MET'} "
        f"(difference {baseline - preset:+.3f} nats/char; total {time.perf_counter() - start:.0f} s)",
    ]
    report(
        "text_learning_efficiency",
        lines,
        {
            "plain_val_loss": baseline,
            "plain_steps": baseline_steps,
            "preset_val_loss": preset,
            "preset_steps": preset_steps,
            "budget_s": BUDGET_S,
        },
    )


if __name__ == "__main__":
    main()
