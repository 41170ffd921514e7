"""Helpers for recurrent state: a tensor (RNN, GRU) or an (h, c) pair (LSTM), batch on dim 1.

A model may append tensors of its own (a language model's line column); the helpers treat every
element of a tuple alike.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

State = Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]


def detach_state(state: Optional[State]) -> Optional[State]:
    """Cut the autograd graph behind `state` (truncated BPTT) while keeping its values."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def select_state(state: State, index: torch.Tensor) -> State:
    """Keep (or repeat) the batch entries named by `index`."""
    if isinstance(state, tuple):
        return tuple(s.index_select(1, index) for s in state)  # type: ignore[return-value]
    return state.index_select(1, index)


def state_as_list(state: Optional[State]) -> Optional[list[torch.Tensor]]:
    """A checkpoint-friendly form of `state` (a list of tensors)."""
    if state is None:
        return None
    return list(state) if isinstance(state, tuple) else [state]


def state_from_list(tensors: Optional[list[torch.Tensor]]) -> Optional[State]:
    """Inverse of `state_as_list`."""
    if not tensors:
        return None
    return tuple(tensors) if len(tensors) > 1 else tensors[0]  # type: ignore[return-value]
