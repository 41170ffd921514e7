"""Property tests: whole `studio sample` argument lists drawn at the edges of every type either generate
sensibly (exit 0, files written) or end in exactly one `studio: error:` line with exit status 2."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import check_contract
from tiny_runs import trained

pytestmark = pytest.mark.slow

# Edges of int and float ranges. Lengths that are valid but would run for hours (e.g. 2**31 tokens, which
# fits in memory) are left out: they are allowed, and show progress, which is tested elsewhere.
EDGE_INTS = st.sampled_from([0, -1, 1, -(2**63), 2**63 - 1, 2**64, 10**15, -(10**30)])
EDGE_FLOATS = st.sampled_from([0.0, -0.0, 1e-300, 5e-324, 1e300, math.inf, -math.inf, math.nan, 1.0, 0.5, -1.0, 1e308])
ODD_STRINGS = st.sampled_from(["", " ", "abc", "1e", "0x10", "--", "☃", "1,2", "[1]", "nan", "-inf"])


def _number(kind: st.SearchStrategy, small: st.SearchStrategy) -> st.SearchStrategy[str]:
    return st.one_of(kind.map(str), small.map(str), ODD_STRINGS)


def _paths(tmp: Path) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            str(tmp / "out"),
            str(tmp),
            "",
            ".",
            "relative/out",
            str(tmp / "file.txt" / "below"),
            "/proc/1/nope",
            str(tmp / ("x" * 300)),
            "/dev/null/x",
        ]
    )


def _arguments(task: str, tmp: Path) -> st.SearchStrategy[list[str]]:
    flags = {
        "--length": _number(EDGE_INTS, st.integers(-3, 24)),
        "--num_samples": _number(EDGE_INTS, st.integers(-2, 3)),
        "--temperature": _number(EDGE_FLOATS, st.floats(0.05, 3.0)),
        "--top_k": _number(EDGE_INTS, st.integers(-2, 50)),
        "--top_p": _number(EDGE_FLOATS, st.floats(0.0, 1.0)),
        "--seed": _number(EDGE_INTS, st.integers(0, 100)),
        "--out_dir": _paths(tmp),
        "--device": st.sampled_from(["cpu", "cuda:7", "", "tpu", "cpu:0"]),
    }
    if task == "text":
        flags["--prompt"] = st.text(max_size=6)
    else:
        flags["--seconds"] = _number(EDGE_FLOATS, st.floats(0.1, 2.0))
        flags["--max_note_seconds"] = _number(EDGE_FLOATS, st.floats(0.1, 5.0))
        flags["--beam_size"] = _number(EDGE_INTS, st.integers(0, 2))
        flags["--branch_factor"] = _number(EDGE_INTS, st.integers(0, 2))
    chosen = st.dictionaries(st.sampled_from(sorted(flags)), st.just(None), max_size=5)

    def build(keys: dict[str, None]) -> st.SearchStrategy[list[str]]:
        if not keys:
            return st.just([])
        return st.tuples(*(flags[k].map(lambda v, k=k: [f"{k}={v}"]) for k in sorted(keys))).map(
            lambda parts: [word for part in parts for word in part]
        )

    return chosen.flatmap(build)


@pytest.mark.parametrize("task", ["text", "midi"])
def test_any_sample_arguments_generate_or_fail_in_one_line(task: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    from conftest import run_studio_here

    run = trained(task, tmp_path_factory)
    base = tmp_path_factory.mktemp(f"properties-{task}")
    (base / "file.txt").write_text("a file, not a folder\n")
    env = dict(os.environ, STUDIO_CACHE=str(base / "cache"), WANDB_MODE="disabled")
    counter = iter(range(10**6))
    outcomes: list[int] = []

    @settings(max_examples=45, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(args=_arguments(task, base))
    def check(args: list[str]) -> None:
        work = base / f"case{next(counter)}"
        work.mkdir()
        command = ["sample", "--ckpt", str(run["ckpt"])]
        if task == "midi":
            command.append("--no_render")  # rendering is tested elsewhere; keep each example quick
        elif not any(a.startswith("--length") for a in args):
            command += ["--length", "16"]
        result = run_studio_here([*command, *args], work, env)
        assert result.returncode in (0, 2), result.stderr[-3000:]
        outcomes.append(result.returncode)
        if result.returncode == 0:
            assert "Traceback" not in result.stderr and "wrote" in result.stderr, result.stderr[-2000:]
        else:
            check_contract(result, work, [])

    check()
    assert 0 in outcomes and 2 in outcomes, "the draws should both generate and fail"
