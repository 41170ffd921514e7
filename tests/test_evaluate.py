"""`studio evaluate`: held-out likelihood of named files and generated-against-real statistics, with reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import assert_one_line_error, run_studio_here
from midi_songs import write_song
from tiny_runs import trained

pytestmark = pytest.mark.slow


def _report(result, tmp: Path) -> dict:
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = list(tmp.rglob("evaluation.json"))
    assert (found.parent / "report.html").is_file() and (found.parent / "settings.json").is_file()
    return json.loads(found.read_text())


def test_text_likelihood_matches_the_models_own_loss_and_names_skipped_files(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = trained("text", tmp_path_factory)
    held = tmp_path / "held"
    held.mkdir()
    corpus = next(run["work"].glob("*.txt")).read_text()
    (held / "a.txt").write_text(corpus[:3000])
    (held / "b.txt").write_text(corpus[3000:6000])
    (held / "bad.txt").write_bytes(b"\xff\xfe\x00 not utf-8")
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--data", str(held)], tmp_path, run["env"])
    report = _report(result, tmp_path)["likelihood"]
    assert report["files"] == 2 and [s["file"].endswith("bad.txt") for s in report["skipped"]] == [True]
    assert report["tokens"] == 2 * 2999
    assert report["bits_per_token"] == pytest.approx(report["nats_per_token"] / math.log(2))
    # An untrained 68-character model would score about ln(68) = 4.2 nats; the tiny trained one does better.
    assert 0.5 < report["nats_per_token"] < math.log(68)
    assert "nats_per_token" in result.stdout and "bad.txt" in result.stdout


def test_midi_likelihood_per_event_and_second_and_generated_against_real(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = trained("midi", tmp_path_factory)
    real = tmp_path / "real"
    for i in range(4):
        write_song(real / f"song{i}.mid", seed=20 + i)
    command = [
        "evaluate",
        "--ckpt",
        str(run["ckpt"]),
        "--data",
        str(real),
        "--samples",
        "3",
        "--against",
        str(run["work"] / "songs"),
        "--seconds",
        "3",
    ]
    report = _report(run_studio_here(command, tmp_path, run["env"]), tmp_path)
    likelihood = report["likelihood"]
    assert likelihood["files"] == 4 and likelihood["seconds"] > 0
    assert likelihood["nats_per_second"] == pytest.approx(
        likelihood["nats_per_token"] * likelihood["tokens"] / likelihood["seconds"]
    )
    compared = report["generated_vs_real"]
    assert {"pitch_class_entropy", "polyphony", "scale_consistency", "pitch_class_transitions"} <= set(compared)
    assert all(0.0 <= c["overlap"] <= 1.0 and c["kl_divergence"] >= 0.0 for c in compared.values())
    pictures = list(tmp_path.rglob("*.png"))
    assert len(pictures) == len(compared)


def test_bad_evaluate_requests_are_one_line(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("text", tmp_path_factory)
    real = tmp_path_factory.mktemp("real") / "real.txt"
    real.write_text("Some real text to compare with, long enough for two samples of its length.\n" * 20)
    for args, needle in [
        ([], "nothing to measure"),
        (["--samples", "2", "--against", str(real), "--length", "50", "--temperature", "0"], "temperature"),
        (["--samples", "4"], "--against"),
        (["--data", str(tmp_path / "nope*.txt")], "matches no file"),
    ]:
        assert_one_line_error(
            run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), *args], tmp_path, run["env"]), needle
        )
    assert list(tmp_path.iterdir()) == []
