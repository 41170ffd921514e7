"""W&B goes online only when the user set it up; offline runs never try to upload checkpoints."""

from __future__ import annotations

import pytest

from studio.training.tracking import wandb_online


@pytest.mark.parametrize(
    "env, online",
    [
        ({}, False),
        ({"WANDB_API_KEY": "k"}, True),
        ({"WANDB_MODE": "online"}, True),
        ({"WANDB_API_KEY": "k", "WANDB_MODE": "offline"}, False),
        ({"WANDB_MODE": "disabled", "WANDB_API_KEY": "k"}, False),
    ],
)
def test_online_only_when_configured(monkeypatch: pytest.MonkeyPatch, env: dict, online: bool) -> None:
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert wandb_online() is online
