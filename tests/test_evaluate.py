"""`studio evaluate`: held-out likelihood of named files and generated-against-real statistics, with reports."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_studio_here
from midi_songs import write_song
from tiny_runs import trained

from studio.evaluation.against import round_seed

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
    rounds = run_studio_here([*command, "--rounds", "2"], tmp_path, run["env"])
    assert_one_line_error(rounds, "rounds are for text checkpoints")


def _three_short_samples_against(real: Path) -> list[str]:
    """`evaluate` arguments: three generated texts of 60 characters against `real`."""
    return ["--samples", "3", "--against", str(real), "--length", "60"]


def test_text_generated_against_real_in_rounds_is_the_mean_of_single_rounds(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Two rounds average what two single-round runs (the first seed, then the second round's) give."""
    run = trained("text", tmp_path_factory)
    real = tmp_path_factory.mktemp("real") / "real.txt"
    real.write_text(next(run["work"].glob("*.txt")).read_text()[:4000])
    found = []
    for seed, rounds in [(0, 2), (0, 1), (round_seed(0, 1), 1)]:
        out = tmp_path / f"seed{seed}-rounds{rounds}"
        args = [
            *_three_short_samples_against(real),
            "--seed",
            str(seed),
            "--rounds",
            str(rounds),
        ]
        result = run_studio_here(
            ["evaluate", "--ckpt", str(run["ckpt"]), *args, "--out_dir", str(out)], tmp_path, run["env"]
        )
        found.append(_report(result, out)["generated_vs_real"])
        (picture,) = out.rglob("*.png")  # the statistics' bars, shown in report.html
        assert picture.name == "text_statistics.png" and picture.name in next(out.rglob("report.html")).read_text()
        assert ("sd over rounds" in result.stdout) == (rounds > 1) and ("--rounds R" in result.stdout) == (rounds == 1)
    both, first, second = found
    assert both["rounds"] == 2 and first["generated"] != second["generated"]
    for name, value in both["generated"].items():
        assert value == pytest.approx((first["generated"][name] + second["generated"][name]) / 2)
        assert both["generated_spread"][name] == pytest.approx(abs(first["generated"][name] - value))
        assert first["generated_spread"][name] == 0.0
    assert both["reference"] == first["reference"]


def test_several_checkpoints_are_compared_side_by_side(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Likelihood and generated-against-real of two checkpoints, each figure in its checkpoint's column."""
    run = trained("text", tmp_path_factory)
    other = tmp_path / "other" / "last.ckpt"
    other.parent.mkdir()
    saved = torch.load(run["ckpt"], weights_only=False)
    saved["state_dict"]["head.bias"] = saved["state_dict"]["head.bias"] + torch.linspace(
        -2, 2, len(saved["state_dict"]["head.bias"])
    )
    torch.save(saved, other)
    real = tmp_path / "real.txt"
    real.write_text(next(run["work"].glob("*.txt")).read_text()[:4000])
    args = [
        "--data",
        str(real),
        *_three_short_samples_against(real),
        "--out_dir",
        str(tmp_path / "out"),
    ]
    result = run_studio_here(
        ["evaluate", "--ckpt", str(run["ckpt"]), "--ckpt", str(other), *args], tmp_path, run["env"]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {
        Path(r["checkpoint"]).parent.name: r
        for r in map(json.loads, map(Path.read_text, tmp_path.rglob("evaluation.json")))
    }
    assert set(reports) == {"text", "other"}
    together = result.stdout.split("wrote ")[-1]  # what follows the last checkpoint's own report
    likelihood, statistics = [[line.split() for line in block.splitlines()] for block in together.split("\n\n")[1:3]]
    assert likelihood[0][:2] == ["checkpoint", "nats/token"]
    for row in likelihood[2:]:
        assert float(row[1]) == pytest.approx(reports[row[0].split("/")[0]]["likelihood"]["nats_per_token"], rel=1e-3)
    assert statistics[0] == ["statistic", "text/last.ckpt", "other/last.ckpt", "real", "text"]
    for row in statistics[2:]:
        made = [reports[run_]["generated_vs_real"]["generated"][row[0]] for run_ in ("text", "other")]
        assert [float(v) for v in row[1:3]] == pytest.approx(made, rel=1e-3, abs=1e-4)
    assert reports["text"]["likelihood"]["nats_per_token"] != reports["other"]["likelihood"]["nats_per_token"]


def test_bad_evaluate_requests_are_one_line(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("text", tmp_path_factory)
    real = tmp_path_factory.mktemp("real") / "real.txt"
    real.write_text("Some real text to compare with, long enough for two samples of its length.\n" * 20)
    for args, needle in [
        ([], "nothing to measure"),
        (["--samples", "2", "--against", str(real), "--length", "50", "--temperature", "0"], "temperature"),
        (["--samples", "4"], "--against"),
        (["--data", str(tmp_path / "nope*.txt")], "matches no file"),
        (["--samples", "2", "--against", str(real), "--length", "50", "--rounds", "0"], "--rounds 0"),
        (["--samples", "-1", "--against", str(real)], "--samples -1 must be >= 0"),
        (["--samples", "2", "--against", str(real), "--length", "-1"], "--length -1 must be >= 1"),
        (["--samples", "2", "--against", str(real), "--seconds", "1e308"], "--seconds 1e+308 must be at most 3600"),
    ]:
        assert_one_line_error(
            run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), *args], tmp_path, run["env"]), needle
        )
    assert list(tmp_path.iterdir()) == []
