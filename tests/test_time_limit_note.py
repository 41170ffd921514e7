"""A run that its time budget stops before the steps it asked for says so; one that finishes says nothing."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import TINY_TEXT_FIT, run_studio_here


def test_a_run_cut_short_by_max_time_names_the_step_the_limit_and_the_fix(
    tmp_path: Path, small_corpus: Path, studio_env: dict
) -> None:
    fit = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--trainer.logger", "false"]
    cut = run_studio_here(
        [*fit, "--run_name", "cut", "--trainer.max_steps", "100000", "--trainer.max_time", "00:00:00:02"],
        tmp_path,
        studio_env,
    )
    assert cut.returncode == 0, cut.stderr[-3000:]
    note = re.search(r"studio: stopped at step (\d+) of 100000 by max_time 0:00:02; .*--trainer.max_time", cut.stderr)
    assert note and 0 < int(note.group(1)) < 100000, cut.stderr[-2000:]
    done = run_studio_here(
        [*fit, "--run_name", "done", "--trainer.max_steps", "3", "--trainer.max_time", "00:01:00:00"],
        tmp_path,
        studio_env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "studio: stopped" not in done.stderr
