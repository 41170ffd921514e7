"""A long generation's progress: redrawn in place on a terminal, a plain line every few seconds in a log."""

from __future__ import annotations

import io

from studio.cli.progress import ProgressBar


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(terminal: bool) -> str:
    stream, clock = Stream(terminal), Clock()
    bar = ProgressBar("tokens", stream=stream, clock=clock)
    for second in range(1, 21):  # 20 s of work, a report every second
        clock.now = float(second)
        bar(second / 20, second * 100)
    bar.close()
    return stream.getvalue()


def test_a_log_gets_a_plain_line_every_five_seconds() -> None:
    lines = _run(terminal=False).splitlines()
    assert "\r" not in _run(terminal=False)
    assert len(lines) == 4  # at 2 s (the first), 7, 12 and 17 s
    assert lines[0].startswith("[") and "10.0%" in lines[0] and "200 tokens" in lines[0]
    assert "85.0%" in lines[-1] and "0:00:03 left" in lines[-1]


def test_a_terminal_gets_one_line_redrawn() -> None:
    drawn = _run(terminal=True)
    assert drawn.count("\r") == 19 and drawn.endswith("\n") and drawn.count("\n") == 1  # every second from 2 s on
