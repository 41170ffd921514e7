"""Sampling speed: batched generation vs one sample at a time, and carried state vs re-running the prefix.

Bars (issue: foundation): 64 samples of 500 characters generated together run at >= 15x the tokens/s
of generating them one at a time; carried-state generation is >= 20x faster than re-feeding the
whole prefix at every step. Speed does not depend on what the weights learned, so the model (the
quickstart's 2x256 LSTM shape) is freshly initialised.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

from studio.generation.sampling import SamplingSettings, draw, filter_logits, generate
from studio.models import RecurrentLanguageModel

VOCAB, LENGTH, BATCH, ONE_AT_A_TIME = 80, 500, 64, 8
SETTINGS = SamplingSettings(temperature=0.8, top_k=40)


def rerun_prefix(model: RecurrentLanguageModel, prompt: list[int], length: int, seed: int) -> list[int]:
    """The naive generator: feed the whole sequence so far at every step (no carried state)."""
    generator = torch.Generator().manual_seed(seed)
    sequence = list(prompt)
    with torch.no_grad():
        for _ in range(length):
            logits, _ = model(torch.tensor([sequence]))
            probs = filter_logits(logits[:, -1], SETTINGS).softmax(-1)
            sequence.append(int(draw(probs, generator)))
    return sequence[len(prompt) :]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    """Measure and report both ratios."""
    torch.manual_seed(0)
    model = RecurrentLanguageModel(vocab_size=VOCAB, embedding_dim=64, hidden_size=256, num_layers=2).eval()
    prompt = [1, 2, 3, 4]
    generate(model, prompt, 20, 2, SETTINGS, seed=0)  # warm-up
    batched_s = timed(lambda: generate(model, prompt, LENGTH, BATCH, SETTINGS, seed=1))
    single_s = timed(lambda: [generate(model, prompt, LENGTH, 1, SETTINGS, seed=s) for s in range(ONE_AT_A_TIME)])
    batched_rate = BATCH * LENGTH / batched_s
    single_rate = ONE_AT_A_TIME * LENGTH / single_s
    carried_s = timed(lambda: generate(model, prompt, LENGTH, 1, SETTINGS, seed=3))
    rerun_s = timed(lambda: rerun_prefix(model, prompt, LENGTH, seed=3))
    batch_ratio, carry_ratio = batched_rate / single_rate, rerun_s / carried_s
    lines = [
        f"Sampling speed (2x256 LSTM, vocabulary {VOCAB}, {LENGTH} tokens per sample, CPU, top-k 40)",
        f"  {BATCH} samples together: {batched_rate:,.0f} tokens/s; one at a time ({ONE_AT_A_TIME} runs): {single_rate:,.0f} tokens/s",
        f"  batched / one at a time: {batch_ratio:.1f}x (bar >= 15x): {'MET' if batch_ratio >= 15 else 'NOT MET'}",
        f"  one sample with carried state: {carried_s:.2f} s; re-running the prefix each step: {rerun_s:.2f} s",
        f"  carried / re-run speed-up: {carry_ratio:.1f}x (bar >= 20x): {'MET' if carry_ratio >= 20 else 'NOT MET'}",
    ]
    report(
        "text_sampling_speed",
        lines,
        {
            "batched_tokens_per_s": batched_rate,
            "single_tokens_per_s": single_rate,
            "batch_ratio": batch_ratio,
            "carried_s": carried_s,
            "rerun_s": rerun_s,
            "carry_ratio": carry_ratio,
        },
    )


if __name__ == "__main__":
    main()
