"""Several checkpoints' evaluations in one table: a column (or row) per checkpoint."""

from __future__ import annotations

from pathlib import Path

from studio.cli.evaluate_tables import checkpoint_labels, side_by_side


def test_labels_name_the_run_and_file_and_number_a_checkpoint_given_twice(tmp_path: Path) -> None:
    a, b = tmp_path / "runA" / "best.ckpt", tmp_path / "runB" / "best.ckpt"
    assert checkpoint_labels([a, b]) == ["runA/best.ckpt", "runB/best.ckpt"]
    assert checkpoint_labels([a, a, b]) == ["runA/best.ckpt #1", "runA/best.ckpt #2", "runB/best.ckpt"]


def test_midi_statistics_side_by_side_are_each_checkpoints_overlap() -> None:
    results = [
        {"generated_vs_real": {"polyphony": {"overlap": 0.25}, "pitch_range": {"overlap": 0.5}}},
        {"generated_vs_real": {"polyphony": {"overlap": 0.75}, "pitch_range": {"overlap": 0.125}}},
    ]
    (only,) = side_by_side(["a/last.ckpt", "b/last.ckpt"], results)
    rows = [line.split() for line in only.splitlines()[2:]]
    assert rows == [["polyphony", "0.25", "0.75"], ["pitch_range", "0.5", "0.125"]]


def test_only_what_every_checkpoint_measured_is_put_side_by_side() -> None:
    text = {"generated": {"distinct_1": 0.5}, "reference": {"distinct_1": 0.25}}
    results = [
        {"likelihood": {"nats_per_token": 1.5, "bits_per_token": 2.0, "tokens": 10}, "generated_vs_real": text},
        {"generated_vs_real": {**text, "generated": {"distinct_1": 0.75}}},
    ]
    (only,) = side_by_side(["a", "b"], results)  # the second measured no likelihood
    assert only.splitlines()[0].split() == ["statistic", "a", "b", "real", "text"]
    assert only.splitlines()[2].split() == ["distinct_1", "0.5", "0.75", "0.25"]
