"""Sampling: filters, determinism, carried state, constraints, and argument checks."""

from __future__ import annotations

import pytest
import torch

from studio.errors import StudioError
from studio.generation.sampling import SamplingSettings, draw, filter_logits, generate
from studio.models import RecurrentLanguageModel


@pytest.fixture(scope="module")
def model() -> RecurrentLanguageModel:
    torch.manual_seed(0)
    return RecurrentLanguageModel(vocab_size=11, embedding_dim=8, hidden_size=16, num_layers=2).eval()


def test_top_k_keeps_exactly_k() -> None:
    logits = torch.tensor([[1.0, 5.0, 3.0, 4.0, 2.0]])
    kept = filter_logits(logits, SamplingSettings(top_k=2)).isfinite()
    assert kept.tolist() == [[False, True, False, True, False]]


def test_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = filter_logits(probs.log(), SamplingSettings(top_p=0.75)).isfinite()
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.75 <= 0.8
    kept = filter_logits(probs.log(), SamplingSettings(top_p=0.1)).isfinite()
    assert kept.tolist() == [[True, False, False, False]]  # the top token always stays


def test_temperature_sharpens() -> None:
    logits = torch.tensor([[0.0, 1.0]])
    cold = filter_logits(logits, SamplingSettings(temperature=0.25)).softmax(-1)[0, 1]
    warm = filter_logits(logits, SamplingSettings(temperature=4.0)).softmax(-1)[0, 1]
    assert cold > 0.95 > 0.6 > warm


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -3}, "top_k"),
    ],
)
def test_bad_settings_are_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(StudioError, match=message):
        SamplingSettings(**kwargs)


def test_draw_follows_the_distribution_and_never_draws_impossible_tokens() -> None:
    probs = torch.tensor([[0.0, 0.1, 0.0, 0.6, 0.3, 0.0]]).expand(40_000, -1)
    tokens = draw(probs, torch.Generator().manual_seed(0))
    counts = torch.bincount(tokens, minlength=6).double() / len(tokens)
    assert counts[[0, 2, 5]].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(counts, probs[0].double(), atol=0.01)


@pytest.mark.parametrize("uniform", [0.0, 1.0 - 2.0**-24])  # the two ends of torch.rand's range [0, 1)
def test_draw_keeps_to_possible_tokens_at_the_ends_of_the_uniform_range(
    monkeypatch: pytest.MonkeyPatch, uniform: float
) -> None:
    monkeypatch.setattr(torch, "rand", lambda *shape, **kw: torch.full(shape, uniform, dtype=kw.get("dtype")))
    probs = torch.tensor([[0.0, 0.2, 0.8, 0.0], [0.5, 0.0, 0.5, 0.0], [0.0, 0.0, 1e-30, 0.0]])
    first, last = [1, 0, 2], [2, 2, 2]
    assert draw(probs, torch.Generator()).tolist() == (last if uniform == 0.0 else first)


def test_same_seed_same_samples_other_seed_other_samples(model: RecurrentLanguageModel) -> None:
    a = generate(model, [1, 2, 3], 40, 4, SamplingSettings(), seed=5)
    b = generate(model, [1, 2, 3], 40, 4, SamplingSettings(), seed=5)
    c = generate(model, [1, 2, 3], 40, 4, SamplingSettings(), seed=6)
    assert a == b and a != c
    assert len(a) == 4 and all(len(row) == 40 for row in a)
    assert len({tuple(row) for row in a}) > 1  # the batch holds different samples


def test_carried_state_equals_rerunning_the_prefix(model: RecurrentLanguageModel) -> None:
    """Greedy decoding with carried state matches recomputing the whole prefix at every step."""
    prompt = [1, 4, 2]
    fast = generate(model, prompt, 15, 1, SamplingSettings(temperature=1e-4), seed=0)[0]
    sequence = list(prompt)
    with torch.no_grad():
        for _ in range(15):
            logits, _ = model(torch.tensor([sequence]))
            sequence.append(int(logits[0, -1].argmax()))
    assert fast == sequence[len(prompt) :]


class OnlyEvenThenStop:
    """A toy constraint: only even ids; a sample finishes after emitting id 0."""

    def reset(self, batch_size: int) -> None:
        self.done = torch.zeros(batch_size, dtype=torch.bool)

    def allowed(self) -> torch.Tensor:
        mask = torch.zeros(len(self.done), 11, dtype=torch.bool)
        mask[:, ::2] = True
        return mask

    def update(self, tokens: torch.Tensor) -> None:
        self.done |= tokens == 0

    def finished(self) -> torch.Tensor:
        return self.done

    def keep(self, rows: torch.Tensor) -> None:
        self.done = self.done[rows]


def test_constraints_mask_tokens_and_end_samples(model: RecurrentLanguageModel) -> None:
    rows = generate(model, [3], 200, 6, SamplingSettings(), seed=1, constraint=OnlyEvenThenStop())
    assert all(t % 2 == 0 for row in rows for t in row)
    assert all(row[-1] == 0 and 0 not in row[:-1] for row in rows if len(row) < 200)
    assert any(len(row) < 200 for row in rows)


class PerSampleRule:
    """Sample r (counted from `first`) may emit only ids = r mod 3 and finishes after r + 3 tokens."""

    def __init__(self, first: int = 0) -> None:
        self.first = first
        self.batch_sizes: list[int] = []

    def reset(self, batch_size: int) -> None:
        self.sample = torch.arange(self.first, self.first + batch_size)
        self.count = torch.zeros(batch_size, dtype=torch.long)

    def allowed(self) -> torch.Tensor:
        self.batch_sizes.append(len(self.sample))
        return torch.arange(11)[None, :] % 3 == (self.sample % 3)[:, None]

    def update(self, tokens: torch.Tensor) -> None:
        self.count += 1

    def finished(self) -> torch.Tensor:
        return self.count >= self.sample + 3

    def keep(self, rows: torch.Tensor) -> None:
        self.sample, self.count = self.sample[rows], self.count[rows]


def test_finished_samples_leave_the_batch_and_the_rest_keep_their_own_state(model: RecurrentLanguageModel) -> None:
    """Greedy rows sampled together equal each row sampled alone, while the batch shrinks as rows finish."""
    greedy = SamplingSettings(temperature=1e-4)
    rule = PerSampleRule()
    together = generate(model, [1, 2], 50, 5, greedy, seed=0, constraint=rule)
    alone = [generate(model, [1, 2], 50, 1, greedy, seed=0, constraint=PerSampleRule(first=r))[0] for r in range(5)]
    assert together == alone
    assert [len(row) for row in together] == [3, 4, 5, 6, 7]
    assert rule.batch_sizes == [5, 5, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("length, num, prompt", [(0, 1, [1]), (5, 0, [1]), (5, 1, [])])
def test_bad_generate_arguments(model: RecurrentLanguageModel, length: int, num: int, prompt: list[int]) -> None:
    with pytest.raises(StudioError):
        generate(model, prompt, length, num)


def test_short_samples_in_many_batches_still_report_progress(model: RecurrentLanguageModel) -> None:
    """Rows shorter than a progress step are heard after every batch, so very many of them never run silently."""
    from studio.generation.sampling import MAX_BATCH

    heard: list[tuple[float, int]] = []
    rows = generate(model, [1], 3, 2 * MAX_BATCH + 1, progress=lambda done, tokens: heard.append((done, tokens)))
    assert len(heard) >= 3
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    assert heard[-1] == (1.0, sum(map(len, rows)))
