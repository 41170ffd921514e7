"""Rows that differ in prompt, length, settings and seed: alone or batched, each row gets the same tokens."""

from __future__ import annotations

import pytest
import torch

from studio.generation.rows import Row, generate_rows, row_seed
from studio.generation.sampling import SamplingSettings, generate
from studio.models import RecurrentLanguageModel

ROWS = [
    Row((1, 2, 3), 40, SamplingSettings(), 7),
    Row((4,), 25, SamplingSettings(temperature=0.7, top_k=4), 8),
    Row((1, 2, 3), 60, SamplingSettings(top_p=0.8), 9),
    Row((5, 6), 1, SamplingSettings(temperature=1.5), 10),
    Row((4,), 33, SamplingSettings(temperature=0.7, top_k=4), 11),
]


@pytest.fixture(scope="module")
def model64() -> RecurrentLanguageModel:
    """A float64 model, so batched and single-row matrix products round alike."""
    torch.manual_seed(0)
    return RecurrentLanguageModel(vocab_size=13, embedding_dim=8, hidden_size=16, num_layers=2).double().eval()


def test_each_row_gets_the_same_tokens_alone_or_batched(model64: RecurrentLanguageModel) -> None:
    batched = generate_rows(model64, ROWS)
    alone = [generate_rows(model64, [row])[0] for row in ROWS]
    assert batched == alone
    assert [len(ids) for ids in batched] == [row.length for row in ROWS]
    assert len({tuple(ids) for ids in batched}) == len(ROWS)  # different streams, different samples


def test_batch_order_does_not_matter(model64: RecurrentLanguageModel) -> None:
    forward = generate_rows(model64, ROWS)
    backward = generate_rows(model64, ROWS[::-1])
    assert forward == backward[::-1]


def test_a_request_is_its_rows(model64: RecurrentLanguageModel) -> None:
    """`generate` (the CLI's and the API's path) is rows seeded row_seed(seed, i): the server may split or join them."""
    settings = SamplingSettings(top_k=5)
    request = generate(model64, [1, 2], 30, 3, settings, seed=42)
    rows = [Row((1, 2), 30, settings, row_seed(42, i)) for i in range(3)]
    assert request == generate_rows(model64, rows)
    assert request[1:] == generate_rows(model64, rows[1:])


def test_top_k_of_one_row_does_not_leak_into_another(model64: RecurrentLanguageModel) -> None:
    greedy = Row((3,), 20, SamplingSettings(top_k=1), 1)
    wild = Row((3,), 20, SamplingSettings(temperature=5.0), 2)
    out = generate_rows(model64, [greedy, wild, greedy])
    assert out[0] == out[2]  # greedy rows agree whatever their seeds
    assert out[1] != out[0]


class Recorder:
    """A watcher that keeps what it heard, and cancels one row after it has heard `after` of its tokens."""

    def __init__(self, rows: int, cancel: int = -1, after: int = 0) -> None:
        self.heard: list[list[int]] = [[] for _ in range(rows)]
        self.cancel, self.after = cancel, after

    def tokens(self, row: int, ids: list[int]) -> None:
        self.heard[row] += ids

    def cancelled(self, row: int) -> bool:
        return row == self.cancel and len(self.heard[row]) >= self.after


def test_a_watcher_hears_every_token_once_in_order(model64: RecurrentLanguageModel) -> None:
    recorder = Recorder(len(ROWS))
    out = generate_rows(model64, ROWS, watcher=recorder)
    assert recorder.heard == out


def test_a_cancelled_row_stops_and_the_others_carry_on(model64: RecurrentLanguageModel) -> None:
    full = generate_rows(model64, ROWS)
    recorder = Recorder(len(ROWS), cancel=2, after=16)
    out = generate_rows(model64, ROWS, watcher=recorder)
    assert 16 <= len(out[2]) < ROWS[2].length and out[2] == full[2][: len(out[2])]
    assert [ids for i, ids in enumerate(out) if i != 2] == [ids for i, ids in enumerate(full) if i != 2]
    assert recorder.heard == out
