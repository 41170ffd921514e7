"""PlainProgress: plain progress lines on stdout when it is not a terminal, instead of Lightning's bar."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import lightning as L
import pytest
from conftest import TINY_TEXT_FIT
from lightning.pytorch.callbacks import RichProgressBar
from lightning.pytorch.demos.boring_classes import BoringModel

from studio.errors import StudioError
from studio.training.plain_progress import PlainProgress, plain_progress_wanted, progress_every

STEP = re.compile(
    r"step (\d+)/(\d+) \((\d+\.\d)%\) · epoch 1 · train/loss [\d.]+ · ([\d.]+) steps/s · (\d+):(\d\d):(\d\d) left"
)


class FakeClock:
    """Seconds that advance by one on every call."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class Recorder(io.StringIO):
    """A stdout that notes the fake time at which each line ended."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.times: list[float] = []

    def write(self, text: str) -> int:
        self.times += [self.clock.now] * text.count("\n")
        return super().write(text)


class LoggingModel(BoringModel):
    """Lightning's tiny model, logging a training loss for the bar and a validation loss."""

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        out: Any = super().training_step(batch, batch_idx)
        self.log("train/loss", out["loss"], prog_bar=True)
        return out

    def validation_step(self, batch: Any, batch_idx: int) -> Any:
        out: Any = super().validation_step(batch, batch_idx)
        self.log("val_loss", out["x"])
        return out


def test_lines_come_at_most_every_few_seconds_with_step_total_loss_and_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    stdout = Recorder(clock)
    monkeypatch.setattr(sys, "stdout", stdout)
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=20,
        val_check_interval=10,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[PlainProgress(every=5.0, clock=clock)],
    )
    trainer.fit(LoggingModel())
    lines = stdout.getvalue().splitlines()
    ours = [(time, line) for time, line in zip(stdout.times, lines) if re.match(r"step |validation |finished ", line)]
    progress = [(time, STEP.fullmatch(line), line) for time, line in ours if line.startswith("step ")]
    assert len(progress) >= 2, lines
    for _, match, line in progress:
        assert match, line
        step, total, percent, rate, h, m, s = match.groups()
        assert total == "20" and percent == f"{int(step) / 20:.1%}"[:-1], line
        left = int(h) * 3600 + int(m) * 60 + int(s)
        assert abs(left - (20 - int(step)) / float(rate)) <= 1, line
    times = [time for time, _, _ in progress]
    assert all(later - earlier >= 5.0 for earlier, later in zip(times, times[1:])), times
    assert times[0] >= 5.0 + 2  # not before the first step, nor before `every` seconds after it
    validations = [line for _, line in ours if line.startswith("validation ")]
    assert [line.split(":")[0] for line in validations] == ["validation at step 10", "validation at step 20"]
    assert all(re.fullmatch(r"validation at step \d+: val_loss -?[\d.e+-]+", line) for line in validations)
    assert re.fullmatch(r"finished at step 20 in 0:00:\d\d", ours[-1][1]), ours


def _fake_trainer(**overrides: Any) -> SimpleNamespace:
    settings = dict(
        is_global_zero=True,
        estimated_stepping_batches=float("inf"),
        global_step=0,
        current_epoch=2,
        max_epochs=-1,
        progress_bar_metrics={"train/loss": 2.0, "val_loss": 3.0},
        callbacks=[],
    )
    return SimpleNamespace(**{**settings, **overrides})


def _train(progress: PlainProgress, trainer: SimpleNamespace, steps: int) -> None:
    progress.on_fit_start(trainer, None)  # type: ignore[arg-type]
    progress.on_train_start(trainer, None)  # type: ignore[arg-type]
    for step in range(1, steps + 1):
        trainer.global_step = step
        progress.on_train_batch_end(trainer, None, None, None, step - 1)  # type: ignore[arg-type]


def test_an_unknown_total_leaves_out_the_total_and_the_time_left(capsys: pytest.CaptureFixture[str]) -> None:
    _train(PlainProgress(every=3.0, clock=FakeClock()), _fake_trainer(), 12)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"step {step} · epoch 3 · train/loss 2 · 1.0 steps/s" for step in (4, 7, 10)]


def test_only_rank_zero_prints(capsys: pytest.CaptureFixture[str]) -> None:
    progress, trainer = PlainProgress(every=1.0, clock=FakeClock()), _fake_trainer(is_global_zero=False)
    _train(progress, trainer, 10)
    progress.on_train_end(trainer, None)  # type: ignore[arg-type]
    assert capsys.readouterr().out == ""


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


def test_plain_lines_replace_the_bar_only_off_a_terminal_and_when_the_settings_leave_it_alone() -> None:
    assert plain_progress_wanted({"enable_progress_bar": None}, Stream(terminal=False))
    assert plain_progress_wanted({}, Stream(terminal=False))
    assert not plain_progress_wanted({}, Stream(terminal=True))
    assert not plain_progress_wanted({"enable_progress_bar": False}, Stream(terminal=False))  # nothing at all
    assert not plain_progress_wanted({"enable_progress_bar": True}, Stream(terminal=False))  # Lightning's bar
    assert not plain_progress_wanted({"callbacks": [RichProgressBar()]}, Stream(terminal=False))
    assert not plain_progress_wanted({"callbacks": RichProgressBar()}, Stream(terminal=False))
    assert not plain_progress_wanted({"barebones": True}, Stream(terminal=False))


@pytest.mark.slow
def test_fit_into_a_file_writes_plain_progress_lines_and_no_bar(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    at = TINY_TEXT_FIT.index("--trainer.enable_progress_bar")  # left unset, as most runs leave it
    args = [*TINY_TEXT_FIT[:at], *TINY_TEXT_FIT[at + 2 :]]
    args += ["--data.init_args.path", str(small_corpus), "--trainer.logger", "false"]
    # A run far too long for its time budget: a line every second, and the time left is the budget's.
    args += ["--trainer.max_steps", "100000", "--trainer.max_time", "00:00:00:06"]
    env = {**studio_env, "STUDIO_PROGRESS_EVERY": "1"}
    with open(tmp_path / "out.txt", "w") as out, open(tmp_path / "err.txt", "w") as err:
        result = subprocess.run(
            [sys.executable, "-m", "studio", *args], cwd=tmp_path, env=env, stdout=out, stderr=err, timeout=120
        )
    output, errors = (tmp_path / "out.txt").read_text(), (tmp_path / "err.txt").read_text()
    assert result.returncode == 0, errors[-3000:]
    steps = re.findall(
        r"^step \d+/100000 \(\d+\.\d%\) · epoch \d+ · train/loss [\d.]+ · .* (\d+:\d\d:\d\d) left$", output, re.M
    )
    assert steps and all(left <= "0:00:06" for left in steps), output
    assert re.search(r"^validation at step \d+: val_loss [\d.]+ · val_bpt [\d.]+$", output, re.M), output
    assert re.search(r"^finished at step \d+ in 0:00:\d\d$", output, re.M), output
    assert "Epoch" not in output and "\r" not in output, output


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDIO_PROGRESS_EVERY", raising=False)
    assert progress_every() == 5.0
    monkeypatch.setenv("STUDIO_PROGRESS_EVERY", "30")
    assert progress_every() == 30.0
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("STUDIO_PROGRESS_EVERY", bad)
        with pytest.raises(StudioError, match="STUDIO_PROGRESS_EVERY=.* must be a number of seconds > 0"):
            progress_every()
