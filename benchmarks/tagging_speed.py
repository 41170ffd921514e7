"""Tagging throughput: packed + length-bucketed batches against padded batches, and data-loading wait.

    python benchmarks/tagging_speed.py [--steps 6] [--repeats 2] [--threads 1]

(1) Training frames per second (real frames only: forward + backward + AdamW step of one
    SequenceTagger, a BiLSTM) on a corpus of very uneven lengths, every arm measured in this run:
      baseline          shuffled batches padded to their longest utterance; the RNN runs over the
                        padding, so a bidirectional layer also reads it into real frames (wrong)
      packed            shuffled batches, packed: correct, padding skipped
      bucketed+packed   length-bucketed batches, packed: what RecurrentStack(lengths=...) does
      tagger            length-bucketed batches through SequenceTagger's own path: packed on CUDA;
                        on CPU each direction runs over the padded batch with items reversed within
                        their lengths (exact, equal to packing, tested), because PyTorch's packed
                        CPU kernels are unfused and several times slower
    The bar: tagger >= 1.5x baseline, i.e. correct masking and still faster than naive padding.
(2) With features cached, the share of each training step spent waiting for the data loader
    (bar: < 10 %), and that the second epoch reads no audio at all.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from datamodules import synthetic_speech  # noqa: E402
from datamodules.speech import SpeechDataModule  # noqa: E402
from datamodules.speech_batches import collate, length_buckets  # noqa: E402
from studio.codecs.speech import features as speech_features  # noqa: E402
from studio.models.tagger import SequenceTagger  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from timing import report  # noqa: E402

LINES: list[str] = []


def say(line: str) -> None:
    """Print a report line and keep it for benchmarks/results/."""
    print(line)
    LINES.append(line)


FEATURES, LABELS, BATCH = 120, 13, 16


def uneven_lengths(n: int, seed: int) -> list[int]:
    """Log-uniform lengths from 40 to 800 frames (0.4 s to 8 s): many short utterances and a long tail."""
    return np.exp(np.random.default_rng(seed).uniform(np.log(40), np.log(800), n)).astype(int).tolist()


def make_items(lengths: list[int], seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random features and frame labels of the given lengths (the speed does not depend on the values)."""
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(n, FEATURES, generator=g),
            torch.randint(1, LABELS, (n,), generator=g),
            torch.randint(1, LABELS, (max(1, n // 10),), generator=g),
        )
        for n in lengths
    ]


def frames_per_second(model: SequenceTagger, batches: list, mode: str, optimizer: torch.optim.Optimizer) -> float:
    """Real (unpadded) frames per second of training steps over `batches`; `mode` is padded, packed or tagger."""
    frames, start = 0, time.perf_counter()
    for batch in batches:
        if mode == "tagger":
            losses, weights, _, _ = model.item_losses(batch)
            loss = losses.sum() / weights.sum()
        else:
            features = model.dropout(model.project(batch.inputs))
            hidden, _ = model.rnn(features, lengths=batch.lengths if mode == "packed" else None)
            logits = model.head(model.dropout(hidden))
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch.frame_labels)  # -100 padding ignored
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        frames += int(batch.lengths.sum())
    return frames / (time.perf_counter() - start)


def packing_benchmark(steps: int, repeats: int) -> float:
    """Print frames/s of each arm (median of interleaved repeats) and return tagger / baseline."""
    lengths = uneven_lengths(steps * BATCH, seed=0)
    items = make_items(lengths, seed=0)
    rng = np.random.default_rng(1)
    shuffled = [collate([items[i] for i in idx]) for idx in np.array_split(rng.permutation(len(items)), steps)]
    bucketed = [collate([items[i] for i in idx]) for idx in length_buckets(lengths, BATCH, seed=0)]
    torch.manual_seed(0)
    model = SequenceTagger(
        input_size=FEATURES, num_labels=LABELS, projection_size=64, hidden_size=96, num_layers=2, dropout=0.1
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    arms = {
        "baseline (shuffled, padded, unmasked)": (shuffled, "padded"),
        "packed (shuffled)": (shuffled, "packed"),
        "bucketed+packed": (bucketed, "packed"),
        "tagger (bucketed, exact over padding)": (bucketed, "tagger"),
    }
    frames_per_second(model, shuffled[:2], "tagger", optimizer)  # warm-up
    results: dict[str, list[float]] = {name: [] for name in arms}
    for _ in range(repeats):  # interleaved, so a slow spell of the machine hits every arm alike
        for name, (batches, mode) in arms.items():
            results[name].append(frames_per_second(model, batches, mode, optimizer))
    real = sum(lengths)
    pad_random = sum(int(b.inputs.shape[0] * b.inputs.shape[1]) for b in shuffled)
    pad_bucket = sum(int(b.inputs.shape[0] * b.inputs.shape[1]) for b in bucketed)
    say(
        f"(1) {len(lengths)} utterances of {min(lengths)}-{max(lengths)} frames (mean {np.mean(lengths):.0f}), batch {BATCH}, "
        f"BiLSTM 2x96, {torch.get_num_threads()} thread(s), median of {repeats}"
    )
    say(f"    padding share: shuffled batches {1 - real / pad_random:.0%}, length buckets {1 - real / pad_bucket:.0%}")
    median = {name: float(np.median(values)) for name, values in results.items()}
    base = median["baseline (shuffled, padded, unmasked)"]
    for name, value in median.items():
        say(f"    {name:40s} {value:9.0f} frames/s   {value / base:5.2f}x")
    return median["tagger (bucketed, exact over padding)"] / base


def loading_benchmark(workdir: Path) -> tuple[float, int]:
    """Set up a real SpeechDataModule and train two epochs; return epoch 2's loader-wait share and audio reads."""
    root = synthetic_speech.generate(workdir / "corpus", n_speakers=8, utts_per_speaker=16)
    data = SpeechDataModule(
        root=str(root), cache_dir=str(workdir / "cache"), batch_size=BATCH, val_fraction=0.2, test_fraction=0.0
    )
    reads = 0
    original = speech_features.read_audio

    def counting_read(path: object) -> tuple[np.ndarray, int]:
        nonlocal reads
        reads += 1
        return original(path)

    speech_features.read_audio = counting_read  # counts every audio file the feature cache opens
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data.setup("fit")  # computes and caches the features of every utterance
        say(f"(2) setup: features of {reads} audio files computed and cached")
        torch.manual_seed(0)
        model = SequenceTagger(**data.model_dims(), projection_size=64, hidden_size=96, num_layers=2)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        for epoch in range(2):
            before, wait = reads, 0.0
            loader = iter(data.train_dataloader())
            start = time.perf_counter()
            while True:
                t0 = time.perf_counter()
                batch = next(loader, None)
                wait += time.perf_counter() - t0
                if batch is None:
                    break
                losses, weights, _, _ = model.item_losses(batch)
                optimizer.zero_grad()
                (losses.sum() / weights.sum()).backward()
                optimizer.step()
            total = time.perf_counter() - start
            say(
                f"    epoch {epoch + 1}: {len(data.dataset('train'))} utterances, loader wait {wait:.3f} s of {total:.2f} s "
                f"({wait / total:.1%}), audio files read: {reads - before}"
            )
    finally:
        speech_features.read_audio = original
    return wait / total, reads - before


def main() -> None:
    """Run both measurements and say whether each bar is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="batches per arm and repeat")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved repeats per arm")
    # One thread by default: on a busy machine, multi-threaded small RNN kernels stall on each other
    # and every arm's timing turns to noise. Pass --threads 0 for PyTorch's default.
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: PyTorch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ratio = packing_benchmark(args.steps, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        share, reads = loading_benchmark(Path(tmp))
    say(
        f"bar 1: tagger (bucketed, exact) / padded baseline = {ratio:.2f}x (target >= 1.5x): {'MET' if ratio >= 1.5 else 'NOT MET'}"
    )
    say(
        f"bar 2: data-loading wait {share:.1%} of step time (target < 10%): {'MET' if share < 0.10 else 'NOT MET'}; "
        f"second epoch audio reads: {reads} ({'MET' if reads == 0 else 'NOT MET'})"
    )
    report(
        "tagging_speed",
        LINES,
        {"tagger_vs_padded": ratio, "loader_wait_share": share, "second_epoch_audio_reads": reads},
        echo=False,
    )


if __name__ == "__main__":
    main()
