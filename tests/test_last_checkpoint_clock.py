"""The time-based refresh of last.ckpt: when the ranks ask rank zero's clock, and when they save."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import studio.training.last_checkpoint as last_checkpoint
from studio.training.last_checkpoint import TIME_CHECK_STEPS, RefreshLastCheckpoint


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def trainer_of(world_size: int, tmp_path: Path, asked: list[int], saved: list[int]) -> SimpleNamespace:
    """What the callback reads of a Trainer: its step, its processes, a broadcast and a save it records."""
    trainer = SimpleNamespace(
        global_step=0, world_size=world_size, checkpoint_callback=SimpleNamespace(dirpath=tmp_path)
    )
    trainer.strategy = SimpleNamespace(broadcast=lambda due: asked.append(trainer.global_step) or due)
    trainer.save_checkpoint = lambda path, weights_only: saved.append(trainer.global_step)
    return trainer


def run_steps(callback: RefreshLastCheckpoint, trainer: SimpleNamespace, clock: Clock, steps: range, at: int) -> None:
    """Step through `steps`; the clock passes the interval at step `at`."""
    for step in steps:
        trainer.global_step = step
        if step == at:
            clock.now += 60 * callback.every_minutes + 1
        callback.on_train_batch_end(trainer, None, None, None, step)


@pytest.mark.parametrize("world_size", [1, 2])
def test_the_clock_is_asked_every_step_alone_and_every_few_steps_with_ranks(
    world_size: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(last_checkpoint.time, "monotonic", clock)
    callback = RefreshLastCheckpoint(every_minutes=1.0)
    callback._last_save = clock.now
    asked: list[int] = []
    saved: list[int] = []
    trainer = trainer_of(world_size, tmp_path, asked, saved)
    run_steps(callback, trainer, clock, range(1, 3 * TIME_CHECK_STEPS + 1), at=TIME_CHECK_STEPS + 3)
    if world_size == 1:
        assert asked == list(range(1, 3 * TIME_CHECK_STEPS + 1))
        assert saved == [TIME_CHECK_STEPS + 3]  # at once
    else:
        assert asked == [TIME_CHECK_STEPS, 2 * TIME_CHECK_STEPS, 3 * TIME_CHECK_STEPS]  # a collective only then
        assert saved == [2 * TIME_CHECK_STEPS]  # at the next step that asks
