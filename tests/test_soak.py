"""The soak benchmark in a short form: repeated SIGKILL-and-resume cycles lose at most one interval each."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT, TINY_TEXT_FIT

sys.path.insert(0, str(ROOT / "benchmarks"))
from soak import run_soak

pytestmark = pytest.mark.slow


def test_short_soak(tmp_path: Path, small_corpus: Path, studio_env: dict) -> None:
    fit_args = [*TINY_TEXT_FIT, "--data.init_args.path", str(small_corpus), "--model.init_args.dropout", "0"]
    report = run_soak(fit_args, tmp_path, total_steps=150, every=10, env=studio_env)
    assert report.cycles >= 1
    assert all(0 <= lost <= 10 for lost in report.lost_steps), report.lost_steps
    # Resume is exact (no dropout, constant schedule), so the two runs end at the same loss.
    assert abs(report.resumed_val_loss - report.uninterrupted_val_loss) < 1e-4, report.lines()
