"""The line column input: its numbers, its carried state, and that every reader of a model sees the same."""

from __future__ import annotations

import pytest
import torch

from studio.errors import StudioError
from studio.generation.sampling import SamplingSettings, generate
from studio.models import RecurrentLanguageModel
from studio.nn.line_position import join_column, line_columns, split_column
from studio.nn.state import state_as_list, state_from_list

BREAK = 0


def test_columns_count_characters_since_the_last_line_break() -> None:
    tokens = torch.tensor([[5, 5, BREAK, 5, 5, 5, BREAK], [BREAK, 5, 5, 5, 5, 5, 5]])
    columns = line_columns(tokens, BREAK, start=torch.tensor([3, 10]))
    # Row 0 continues a line already 3 long; row 1 breaks at once, so its start does not matter.
    assert columns.tolist() == [[4, 5, 0, 1, 2, 3, 0], [0, 1, 2, 3, 4, 5, 6]]


def _model(cell: str = "lstm", positions: int = 8) -> RecurrentLanguageModel:
    torch.manual_seed(0)
    model = RecurrentLanguageModel(
        vocab_size=7,
        embedding_dim=6,
        hidden_size=10,
        num_layers=2,
        cell=cell,
        line_positions=positions,
        line_break_id=BREAK,
    ).eval()
    assert model.line_position is not None
    torch.nn.init.normal_(model.line_position.embedding.weight)  # as after training (it starts at zero)
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_chunks_with_the_carried_state_equal_one_pass(cell: str) -> None:
    """Training, likelihood and sampling read text in pieces: the column must carry across them."""
    model = _model(cell)
    tokens = torch.randint(0, 7, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole, _ = model(tokens)
        first, state = model(tokens[:, :17])
        second, state = model(tokens[:, 17:], state)
        steps = []
        stepped = None
        for t in range(tokens.shape[1]):  # one token at a time, as sampling feeds it
            logits, stepped = model(tokens[:, t : t + 1], stepped)
            steps.append(logits)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)
    torch.testing.assert_close(torch.cat(steps, 1), whole, rtol=1e-4, atol=1e-5)


def test_the_column_changes_what_the_model_predicts() -> None:
    """The same characters predicted at another column give other logits (the input reaches the output)."""
    model = _model()
    tokens = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        at_start, _ = model(tokens)
        state = join_column(_zero_state(model), torch.tensor([5]))
        further, _ = model(tokens, state)
    assert not torch.allclose(at_start, further)


def _zero_state(model: RecurrentLanguageModel) -> tuple[torch.Tensor, torch.Tensor]:
    zeros = torch.zeros(model.hparams.num_layers, 1, model.hparams.hidden_size)
    return zeros, zeros


def test_the_state_round_trips_through_a_checkpoint_and_splits_back() -> None:
    h, c, column = torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.tensor([1, 2, 3])
    state = state_from_list(state_as_list(join_column((h, c), column)))
    rnn_state, back = split_column(state)
    assert torch.equal(back, column) and all(torch.equal(a, b) for a, b in zip(rnn_state, (h, c)))
    gru_state, back = split_column(join_column(h, column))
    assert torch.equal(gru_state, h) and torch.equal(back, column)


def test_sampling_with_the_column_is_seeded_and_carries_state() -> None:
    model = _model()
    a = generate(model, [BREAK, 3], 30, 3, SamplingSettings(), seed=2)
    assert a == generate(model, [BREAK, 3], 30, 3, SamplingSettings(), seed=2)
    greedy = generate(model, [BREAK, 3], 12, 1, SamplingSettings(temperature=1e-4), seed=0)[0]
    sequence = [BREAK, 3]
    with torch.no_grad():
        for _ in range(12):
            logits, _ = model(torch.tensor([sequence]))
            sequence.append(int(logits[0, -1].argmax()))
    assert greedy == sequence[2:]


def test_the_input_is_off_without_a_line_break_and_checked() -> None:
    assert RecurrentLanguageModel(vocab_size=7, line_positions=8).line_position is None  # e.g. a BPE vocabulary
    assert RecurrentLanguageModel(vocab_size=7, line_break_id=BREAK).line_position is None  # not asked for
    with pytest.raises(StudioError, match="line_positions -1 must be a whole number >= 0"):
        RecurrentLanguageModel(vocab_size=7, line_positions=-1, line_break_id=BREAK)
