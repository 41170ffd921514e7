"""The recurrent core: the worked example, every cell, bidirectional stacks and packed padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.errors import StudioError
from studio.nn import CELLS, RecurrentStack, detach_state, select_state

W_H = [[0.5, 0.2], [0.3, 0.8]]
U_H = [[0.1, 0.4], [0.6, 0.7]]
B_H = [0.1, 0.2]


def test_vanilla_rnn_matches_the_worked_example() -> None:
    """h_t = tanh(W_h x_t + U_h h_{t-1} + b_h) with the example's weights, x1=[1,0], x2=[0,1], h0=0."""
    layer = RecurrentStack(2, 2, num_layers=1, cell="rnn_tanh")
    with torch.no_grad():
        layer.rnn.weight_ih_l0.copy_(torch.tensor(W_H))
        layer.rnn.weight_hh_l0.copy_(torch.tensor(U_H))
        layer.rnn.bias_ih_l0.copy_(torch.tensor(B_H))
        layer.rnn.bias_hh_l0.zero_()
    out, h_last = layer(torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))
    h1, h2 = out[0, 0].detach().numpy(), out[0, 1].detach().numpy()
    np.testing.assert_allclose(h1, [0.537, 0.462], atol=1e-3)
    # The same recurrence by hand, independent of PyTorch.
    w, u, b = np.array(W_H), np.array(U_H), np.array(B_H)
    expected_h2 = np.tanh(w @ [0.0, 1.0] + u @ np.tanh(w @ [1.0, 0.0] + b) + b)
    np.testing.assert_allclose(h2, expected_h2, atol=1e-6)
    np.testing.assert_allclose(h2, [0.492, 0.928], atol=1e-3)
    np.testing.assert_allclose(h_last[0, 0].detach().numpy(), h2, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_every_cell_stacks_and_carries_state(cell: str, bidirectional: bool) -> None:
    """Running two halves with carried state equals running the whole sequence."""
    torch.manual_seed(0)
    stack = RecurrentStack(3, 5, num_layers=2, cell=cell, dropout=0.0, bidirectional=bidirectional).eval()
    x = torch.randn(4, 10, 3)
    out, _ = stack(x)
    assert out.shape == (4, 10, stack.output_size) == (4, 10, 10 if bidirectional else 5)
    if not bidirectional:
        first, state = stack(x[:, :6])
        second, _ = stack(x[:, 6:], detach_state(state))
        torch.testing.assert_close(torch.cat([first, second], 1), out)


def test_unknown_cell_is_a_clear_error() -> None:
    with pytest.raises(StudioError, match="unknown cell 'lstmm'"):
        RecurrentStack(3, 5, cell="lstmm")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_packed_padding_never_leaks(cell: str) -> None:
    """A padded batch gives each item exactly what it gives alone, and zeros on the padding."""
    torch.manual_seed(0)
    stack = RecurrentStack(3, 4, num_layers=2, cell=cell, bidirectional=True).eval()
    a, b = torch.randn(7, 3), torch.randn(4, 3)
    batch = torch.zeros(2, 7, 3)
    batch[0], batch[1, :4] = a, b
    out, _ = stack(batch, lengths=torch.tensor([7, 4]))
    alone_b, _ = stack(b[None])
    torch.testing.assert_close(out[1, :4], alone_b[0])
    assert torch.all(out[1, 4:] == 0)


def test_select_state_repeats_rows_for_batched_sampling() -> None:
    h, c = torch.randn(2, 1, 5), torch.randn(2, 1, 5)
    h3, c3 = select_state((h, c), torch.zeros(3, dtype=torch.long))
    assert h3.shape == (2, 3, 5) and torch.equal(h3[:, 2], h[:, 0]) and torch.equal(c3[:, 1], c[:, 0])
