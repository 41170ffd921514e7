"""`studio fit` training throughput against a plain PyTorch loop over the same model and batches.

Bar (issue: foundation): a 2x256 LSTM, batch 32 x 64 steps on the CPU, trains through `studio fit`
at >= 0.95x the tokens/s of the plain loop. Runs alternate (and swap order from pair to pair) to
spread out machine noise; the median ratio of the pairs is reported. The `english` corpus is large
enough (about 260 batches an epoch) that every timed step is an ordinary step inside the first epoch.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import StepTimer, plain_training_loop, report

from datamodules import TextDataModule
from studio.cli.fit import StudioCLI
from studio.models import RecurrentLanguageModel

STEPS, WARMUP, PAIRS = 130, 30, 7
MODEL = dict(
    embedding_dim=64,
    hidden_size=256,
    num_layers=2,
    cell="lstm",
    dropout=0.0,
    lr=2e-3,
    weight_decay=0.0,
    scheduler="constant",
)
DATA = dict(corpus="english", batch_size=32, seq_len=64)


def studio_run(seed: int) -> float:
    """Tokens/s of `studio fit` (validation and logging to disk off, everything else as users run it)."""
    args = [
        "fit",
        "--model",
        "studio.models.RecurrentLanguageModel",
        "--data",
        "datamodules.TextDataModule",
        *[f"--model.init_args.{k}={v}" for k, v in MODEL.items()],
        *[f"--data.init_args.{k}={v}" for k, v in DATA.items()],
        "--trainer.accelerator=cpu",
        "--trainer.devices=1",
        f"--trainer.max_steps={STEPS}",
        "--trainer.limit_val_batches=0",
        "--trainer.logger=false",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        f"--seed_everything={seed}",
        f"--run_name=bench-parity-{seed}",
        "--checkpoint.dirpath=/tmp/studio-bench-parity",
        f'--trainer.callbacks+={{"class_path": "timing.StepTimer", "init_args": {{"warmup": {WARMUP}}}}}',
    ]
    import shutil

    shutil.rmtree("/tmp/studio-bench-parity", ignore_errors=True)
    cli = StudioCLI(args=args)
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, StepTimer))
    return timer.tokens_per_s


def plain_run(seed: int) -> float:
    """Tokens/s of the plain loop over the same model class and the same batches."""
    torch.manual_seed(seed)
    data = TextDataModule(**DATA)
    model = RecurrentLanguageModel(vocab_size=data.codec.vocab_size, **MODEL)
    return plain_training_loop(model, data.train_dataloader(), lr=2e-3, clip=1.0, max_steps=STEPS, warmup=WARMUP)[
        "tokens_per_s"
    ]


def main() -> None:
    """Alternate plain and studio runs and report the median ratio."""
    torch.set_num_threads(torch.get_num_threads())
    plain, studio = [], []
    for pair in range(PAIRS):
        if pair % 2:
            studio.append(studio_run(pair))
            plain.append(plain_run(pair))
        else:
            plain.append(plain_run(pair))
            studio.append(studio_run(pair))
    ratios = [s / p for s, p in zip(studio, plain)]
    ratio = statistics.median(ratios)
    lines = [
        "Training throughput: studio fit vs a plain PyTorch loop (2x256 LSTM, batch 32 x 64 steps, CPU)",
        f"  plain loop  tokens/s: {', '.join(f'{v:,.0f}' for v in plain)}",
        f"  studio fit  tokens/s: {', '.join(f'{v:,.0f}' for v in studio)}",
        f"  ratio per pair: {', '.join(f'{r:.3f}' for r in ratios)}; median {ratio:.3f}x (bar >= 0.95x): {'MET' if ratio >= 0.95 else 'NOT MET'}",
    ]
    report(
        "text_training_parity",
        lines,
        {"plain": plain, "studio": studio, "ratios": ratios, "median_ratio": ratio, "bar": 0.95},
    )


if __name__ == "__main__":
    main()
