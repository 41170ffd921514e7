"""Recurrent building blocks: cell choice, stacking, bidirectionality and state helpers."""

from studio.nn.recurrent import CELLS, RecurrentStack, make_rnn
from studio.nn.state import State, detach_state, select_state

__all__ = ["CELLS", "RecurrentStack", "State", "detach_state", "make_rnn", "select_state"]
