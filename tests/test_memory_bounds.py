"""Requests too big for memory are refused before anything is allocated: the process's peak RSS stays
near what a small request of the same kind took (measured in one fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bad_checkpoints import write_inflating_checkpoint
from tiny_runs import trained

pytestmark = pytest.mark.slow

# A refused request may allocate no more than this above the baseline's peak.
MARGIN = 64 * 1024**2


def test_oversized_requests_are_refused_before_allocating(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    runs = {task: trained(task, tmp_path_factory) for task in ("text", "midi", "tagger")}
    text, midi, tagger = (str(runs[t]["ckpt"]) for t in ("text", "midi", "tagger"))
    wav = str(next((runs["tagger"]["work"] / "corpus").rglob("*.wav")))
    # A 1 GB checkpoint of a few MB (a deflated record), and a 200 MB "MIDI file" (sparse: no disk space).
    bomb = str(write_inflating_checkpoint(runs["text"]["ckpt"], tmp_path / "bomb.ckpt", 1024**3))
    huge = tmp_path / "huge" / "huge.mid"
    huge.parent.mkdir()
    with open(huge, "wb") as handle:
        handle.write(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")
        handle.truncate(200 * 1024**2)
    real = str(runs["text"]["work"] / "small.txt")
    commands = [
        # Baselines: the same kinds of request at a sensible size (the model loaded, a batch generated).
        ["sample", "--ckpt", text, "--length", "64", "--num_samples", "4"],
        ["sample", "--ckpt", midi, "--seconds", "2", "--num_samples", "2", "--no_render"],
        ["tag", "--ckpt", tagger, wav],
        # Class 5 of the bad-input issue: each must be refused at once.
        ["sample", "--ckpt", text, "--num_samples", "100000000000", "--length", "500"],
        ["sample", "--ckpt", text, "--length", "1000000000000000"],
        ["sample", "--ckpt", midi, "--seconds", "1e9", "--no_render"],
        ["sample", "--ckpt", midi, "--beam_size", "100000", "--branch_factor", "100", "--no_render"],
        ["sample", "--ckpt", midi, "--num_samples", "1000000000", "--no_render"],
        # Round three (#33): sizes a file or an evaluation sets.
        ["sample", "--ckpt", text, "--num_samples", "5000000", "--length", "20"],  # the ids as Python lists
        ["sample", "--ckpt", bomb, "--length", "5"],
        ["evaluate", "--ckpt", text, "--samples", "1000000000", "--against", real],
        ["evaluate", "--ckpt", midi, "--data", str(huge.parent)],
    ]
    # What each refusal's line says (the rest: too big for memory).
    words = {str(huge.parent): "over the 64 MB a MIDI file may be"}
    out = tmp_path / "rss.json"
    probe = Path(__file__).with_name("memory_probe.py")
    argv = [word for command in commands for word in ("--", *command)]
    # A budget of 1 GB: the baselines need far less; the 1 GB checkpoint must be refused unread.
    env = dict(
        os.environ,
        STUDIO_CACHE=str(tmp_path / "cache"),
        OMP_NUM_THREADS="1",
        WANDB_MODE="disabled",
        STUDIO_MEMORY_LIMIT_GB="1",
    )
    done = subprocess.run([sys.executable, str(probe), str(out), *argv], cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0
    results = json.loads(out.read_text())
    baseline = max(r["peak_rss"] for r in results[:3])
    assert [r["code"] for r in results[:3]] == [0, 0, 0], results[:3]
    for result in results[3:]:
        assert result["code"] == 2, result
        named = [words[word] for word in result["args"] if word in words]
        assert (named[0] if named else "memory") in result["stderr"], result["stderr"]
        assert result["peak_rss"] <= baseline + MARGIN, (result["args"], result["peak_rss"] - baseline)
