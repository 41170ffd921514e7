"""`studio evaluate` on a tagger: label error rate, frame accuracy and confusions over labelled recordings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_studio_here
from tiny_runs import trained

from datamodules import synthetic_speech
from studio.codecs.speech import read_audio
from studio.codecs.speech.ctc import collapse, edit_distance
from studio.generation import Generator

pytestmark = pytest.mark.slow


def _held_out(tmp_path: Path) -> Path:
    """Four utterances of speakers the tiny tagger never heard, one wav without labels, one with a foreign label."""
    held = synthetic_speech.generate(tmp_path / "held", n_speakers=2, utts_per_speaker=2, seed=11)
    first = sorted(held.rglob("*.wav"))[0]
    shutil.copy(first, first.with_name("unlabelled.wav"))
    shutil.copy(first, first.with_name("foreign.wav"))
    rows = first.with_suffix(".phn").read_text().splitlines()
    start, end, _ = rows[1].split()
    rows[1] = f"{start} {end} zz"
    first.with_name("foreign.phn").write_text("\n".join(rows) + "\n")
    return held


def _report(result, tmp: Path) -> tuple[dict, Path]:
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = list(tmp.rglob("evaluation.json"))
    assert (found.parent / "report.html").is_file() and (found.parent / "settings.json").is_file()
    return json.loads(found.read_text()), found.parent


def test_tagger_label_error_rate_frame_accuracy_and_confusions(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = trained("tagger", tmp_path_factory)
    held = _held_out(tmp_path)
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--data", str(held)], tmp_path, run["env"])
    report, folder = _report(result, tmp_path)
    tagging = report["tagging"]
    skipped = {entry["file"].split("/")[-1]: entry["why"] for entry in tagging["skipped"]}
    assert skipped == {"unlabelled.wav": "no .phn file", "foreign": "label 'zz' is not in the model's label set"}
    assert tagging["utterances"] == 4 and tagging["confusion_of"] == "frames"
    assert tagging["label_error_rate"] == pytest.approx(tagging["edits"] / tagging["reference_labels"])

    # The same numbers from the API by hand: labels of each clip against its .phn labels, and every frame counted.
    gen = Generator.from_checkpoint(run["ckpt"])
    codec = gen.loaded.codec
    edits = labels = frames = 0
    for phn in sorted(held.rglob("*.phn")):
        if phn.stem == "foreign":
            continue
        wav = phn.with_suffix(".wav")
        reference = collapse(codec.labels.encode([line.split()[2] for line in phn.read_text().splitlines()]))
        predicted = codec.labels.encode([label for label, _, _ in gen.tag(wav)])
        edits += edit_distance(reference, predicted)
        labels += len(reference)
        frames += codec.encode_audio(*read_audio(wav)).shape[0]
    assert (tagging["edits"], tagging["reference_labels"], tagging["frames"]) == (edits, labels, frames)

    confusion = np.array(tagging["confusion"])
    assert confusion.shape == (len(codec.labels), len(codec.labels)) and confusion.sum() == frames
    assert tagging["frame_accuracy"] == pytest.approx(np.trace(confusion) / frames)
    for pair in tagging["most_confused"]:
        r, p = codec.labels.labels.index(pair["reference"]), codec.labels.labels.index(pair["predicted"])
        assert r != p and pair["count"] == confusion[r, p] > 0
    assert (folder / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    assert "label error rate" in result.stdout and "unlabelled.wav" in result.stdout and "zz" in result.stdout


def test_tagger_on_a_manifest_scores_labels_only(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("tagger", tmp_path_factory)
    held = synthetic_speech.generate(tmp_path / "held", n_speakers=1, utts_per_speaker=2, seed=12)
    lines = [
        json.dumps(
            {
                "audio": str(wav),
                "labels": [row.split()[2] for row in wav.with_suffix(".phn").read_text().split("\n") if row],
            }
        )
        for wav in sorted(held.rglob("*.wav"))
    ]
    manifest = tmp_path / "held.jsonl"
    manifest.write_text("\n".join([*lines, "not json"]) + "\n")
    command = ["evaluate", "--ckpt", str(run["ckpt"]), "--ckpt", str(run["ckpt"]), "--data", str(manifest)]
    result = run_studio_here(command, tmp_path, run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(p.read_text())["tagging"] for p in tmp_path.rglob("evaluation.json")]
    assert len(reports) == 2 and reports[0]["label_error_rate"] == reports[1]["label_error_rate"]
    tagging = reports[0]
    assert tagging["utterances"] == 2 and tagging["frame_accuracy"] is None and tagging["confusion_of"] == "labels"
    assert [s["file"] for s in tagging["skipped"]] == ["held.jsonl line 3"]
    # Aligned pairs: every reference label is matched, substituted or deleted.
    assert np.array(tagging["confusion"]).sum() + tagging["deletions"] == tagging["reference_labels"]
    assert "n/a" in result.stdout and "label error rate" in result.stdout


def test_bad_tagger_requests_are_one_line(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("tagger", tmp_path_factory)
    empty = tmp_path / "empty"
    empty.mkdir()
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    wav = next(run["work"].rglob("*.wav"))
    shutil.copy(wav, unlabelled / "a.wav")
    for args, needle in [
        (["--data", str(empty)], "no audio files"),
        (["--data", str(tmp_path / "absent")], "does not exist"),
        (["--data", str(unlabelled)], "no .phn file"),
        (
            ["--data", str(empty), "--samples", "2", "--against", str(empty)],
            "a speech_tagging checkpoint generates nothing",
        ),
    ]:
        assert_one_line_error(
            run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), *args], tmp_path, run["env"]), needle
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "unlabelled"]
