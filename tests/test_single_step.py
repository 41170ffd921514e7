"""The one-step path used when sampling on a CPU computes what the fused PyTorch modules compute."""

from __future__ import annotations

import pytest
import torch

from studio.nn.recurrent import RecurrentStack
from studio.nn.single_step import can_step, step


@pytest.mark.parametrize("cell", ["rnn_tanh", "rnn_relu", "gru", "lstm"])
@pytest.mark.parametrize("with_state", [False, True])
def test_one_step_equals_the_fused_module(cell: str, with_state: bool) -> None:
    torch.manual_seed(0)
    stack = RecurrentStack(5, 7, num_layers=3, cell=cell).eval()
    x = torch.randn(4, 1, 5)
    state = None
    if with_state:
        _, state = stack.rnn(torch.randn(4, 6, 5))
    expected, expected_state = stack.rnn(x, state)
    out, new_state = step(stack.rnn, x[:, 0], state)
    assert torch.allclose(out, expected[:, 0], atol=1e-6)
    for got, want in zip(
        new_state if cell == "lstm" else [new_state], expected_state if cell == "lstm" else [expected_state]
    ):
        assert got.shape == want.shape and torch.allclose(got, want, atol=1e-6)


def test_the_stack_takes_the_one_step_path_only_where_it_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    import studio.nn.recurrent as recurrent

    monkeypatch.setattr(recurrent, "step", lambda rnn, x, state: calls.append(x.shape[0]) or step(rnn, x, state))
    stack = RecurrentStack(5, 7, num_layers=2, cell="lstm").eval()
    stack(torch.randn(3, 1, 5))  # one token, inference, CPU: the one-step path
    stack(torch.randn(3, 4, 5))  # a sequence: fused
    stack(torch.randn(recurrent.STEP_BATCH_LIMIT + 1, 1, 5))  # a large batch: fused
    stack.train()
    stack(torch.randn(3, 1, 5))  # training: fused (dropout, autograd through cuDNN/oneDNN)
    assert calls == [3]
    assert not can_step(RecurrentStack(5, 7, bidirectional=True).rnn)
