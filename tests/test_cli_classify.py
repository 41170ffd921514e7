"""Classification end to end: `studio fit` on the embedded languages, `studio classify`, the API and `studio evaluate`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch
from conftest import ROOT, assert_one_line_error, run_studio, run_studio_here
from tiny_runs import trained
from wandb_records import summary

from studio.generation import Generator

pytestmark = pytest.mark.slow

TEXTS = ["Nel mezzo del cammin di nostra vita", "Ihr naht euch wieder, schwankende Gestalten", "my dear brother"]


def _classify(run: dict, tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[str, Path]:
    out = tmp_path / "out"
    command = ["classify", "--ckpt", str(run["ckpt"]), "--out_dir", str(out), *args]
    if stdin is None:
        result = run_studio_here(command, run["work"], run["env"])
    else:
        import sys

        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            result = run_studio_here(command, run["work"], run["env"])
        finally:
            sys.stdin = saved
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, next((out / "classifier").iterdir())


def test_fit_writes_a_classification_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("classifier", tmp_path_factory)
    checkpoint = torch.load(run["ckpt"], weights_only=True)
    assert checkpoint["studio"]["task"] == "classification"
    codec = checkpoint["studio"]["codec"]
    assert codec["kind"] == "classes" and codec["labels"] == ["de", "en", "fr", "it", "la", "nl"]
    metrics = (run["ckpt"].parent / "metrics.csv").read_text()
    assert ",val_acc," in metrics and ",val_macro_f1," in metrics  # the page and W&B get accuracy and macro-F1


def test_classify_reads_stdin_files_and_manifests_and_agrees_with_the_api(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("classifier", tmp_path_factory)
    review = tmp_path / "review.txt"
    review.write_text(TEXTS[0], encoding="utf-8")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[1:]), encoding="utf-8")
    stdout, folder = _classify(run, tmp_path, str(review), str(manifest), "-", stdin="\n".join(TEXTS) + "\n")
    rows = list(csv.DictReader(io.StringIO((folder / "predictions.csv").read_text())))
    assert [r["input"] for r in rows] == [
        str(review),
        f"{manifest}:1",
        f"{manifest}:2",
        "stdin:1",
        "stdin:2",
        "stdin:3",
    ]
    for row in rows:
        probabilities = [float(row[f"p_{c}"]) for c in ("de", "en", "fr", "it", "la", "nl")]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] == ("de", "en", "fr", "it", "la", "nl")[probabilities.index(max(probabilities))]
    assert stdout.splitlines()[0].startswith(f"{review}: {rows[0]['label']}")
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["task"] == "classification" and settings["inputs"] == [str(review), str(manifest), "-"]

    api = Generator.from_checkpoint(run["ckpt"]).classify(TEXTS)
    saved = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    # one function behind both; the CLI batches six texts and the API three, so the last rounded digit may differ
    for from_api, from_cli in zip(api, saved[3:], strict=True):
        assert from_api.label == from_cli["label"]
        assert from_api.probabilities == pytest.approx(from_cli["probabilities"], abs=2e-6)


def test_a_million_word_review_is_cut_and_the_cut_is_said(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("classifier", tmp_path_factory)
    review = tmp_path / "long.txt"
    review.write_text("wonderful " * 1_000_000, encoding="utf-8")
    stdout, folder = _classify(run, tmp_path, str(review))
    assert "(cut from 1000000 to 12 steps)" in stdout
    assert json.loads((folder / "predictions.jsonl").read_text())["cut_from"] == 1_000_000


@pytest.mark.parametrize(
    "inputs, needles",
    [
        (["{empty}"], ["no inputs"]),
        (["{latin1}"], ["latin.txt", "UTF-8"]),
        (["{missing}"], ["nope.txt", "does not exist"]),
    ],
    ids=["empty", "not-utf8", "missing"],
)
def test_bad_inputs_are_one_line_errors_and_write_nothing(
    inputs: list[str], needles: list[str], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("classifier", tmp_path_factory)
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    (tmp_path / "latin.txt").write_bytes("très".encode("latin-1"))
    names = {"empty": tmp_path / "empty.jsonl", "latin1": tmp_path / "latin.txt", "missing": tmp_path / "nope.txt"}
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    args = [i.format(**names) for i in inputs]
    out = tmp_path / "out"
    result = run_studio_here(
        ["classify", "--ckpt", str(run["ckpt"]), "--out_dir", str(out), *args], run["work"], run["env"]
    )
    assert_one_line_error(result, *needles)
    assert not out.exists()


def test_evaluate_scores_the_runs_own_test_split_against_the_majority_baseline(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    run = trained("classifier", tmp_path_factory)
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--split", "test"], run["work"], run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "majority-class baseline accuracy" in result.stdout and "macro-F1" in result.stdout
    report = next((run["work"] / "samples" / "classifier").glob("eval-*/evaluation.json"))
    scores = json.loads(report.read_text())["classification"]
    assert scores["items"] > 100 and scores["majority_baseline"] == pytest.approx(1 / 6)
    assert scores["accuracy"] > 0.4  # far above the majority class after two short epochs
    assert (report.parent / "confusion.png").stat().st_size > 1000
    twice = ["evaluate", "--ckpt", str(run["ckpt"]), "--ckpt", str(run["ckpt"]), "--split", "test"]
    both = run_studio_here(twice, run["work"], run["env"])
    assert both.returncode == 0, both.stderr[-3000:]
    side = both.stdout.split("checkpoint")[-1]
    assert "accuracy" in side and f"classifier/last.ckpt #2  {scores['accuracy']:.4f}" in side  # side by side


def test_evaluate_names_a_class_the_classifier_never_learned(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("classifier", tmp_path_factory)
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({"text": "hola amigo", "label": "es"}) + "\n", encoding="utf-8")
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--data", str(data)], run["work"], run["env"])
    assert_one_line_error(result, "data.jsonl:1", "'es'", "never learned")


def test_sample_and_tag_send_a_classifier_to_classify(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("classifier", tmp_path_factory)
    result = run_studio_here(["sample", "--ckpt", str(run["ckpt"])], run["work"], run["env"])
    assert_one_line_error(result, "classification checkpoint", "studio classify")


def test_w_and_b_gets_accuracy_macro_f1_and_the_confusion_matrix(tmp_path: Path, studio_env: dict) -> None:
    fit = [
        *["fit", "--config", str(ROOT / "configs" / "classify" / "quickstart.yaml"), "--run_name", "wb"],
        *[
            "--model.init_args.embedding_dim",
            "8",
            "--model.init_args.hidden_size",
            "8",
            "--data.init_args.num_words",
            "500",
        ],
        *["--trainer.max_epochs", "1", "--trainer.limit_train_batches", "5", "--trainer.enable_progress_bar", "false"],
    ]
    result = run_studio(fit, tmp_path, studio_env)  # a process of its own: W&B writes its run file when it ends
    assert result.returncode == 0, result.stderr[-3000:]
    tables = list(tmp_path.glob("wandb/offline-run-*/files/media/table/val/confusion_*.table.json"))
    assert len(tables) == 1
    table = json.loads(tables[0].read_text())
    assert table["columns"] == ["true", "predicted", "count"] and len(table["data"]) == 36
    run_file = next(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))
    assert {"val_acc", "val_macro_f1", "val_loss"} <= summary(run_file)["history"]


def test_audio_clips_are_classified_from_their_features(tmp_path: Path, studio_env: dict) -> None:
    from datamodules import synthetic_speech

    corpus = synthetic_speech.generate(tmp_path / "corpus", n_speakers=3, utts_per_speaker=6, seed=2)
    clips = sorted(corpus.rglob("*.wav"))
    manifest = tmp_path / "speakers.jsonl"
    manifest.write_text(
        "".join(json.dumps({"audio": str(c.relative_to(tmp_path)), "label": c.parent.name}) + "\n" for c in clips)
    )
    fit = [
        *["fit", "--config", str(ROOT / "configs" / "classify" / "quickstart.yaml"), "--run_name", "speakers"],
        *[
            "--data.init_args.path",
            str(manifest),
            "--data.init_args.max_len",
            "300",
            "--data.init_args.batch_size",
            "4",
        ],
        *["--model.init_args.hidden_size", "8", "--model.init_args.embedding_dim", "8"],
        *["--trainer.max_epochs", "2", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false"],
    ]
    result = run_studio_here(fit, tmp_path, studio_env)
    assert result.returncode == 0, result.stderr[-3000:]
    ckpt = tmp_path / "checkpoints" / "speakers" / "last.ckpt"
    codec = torch.load(ckpt, weights_only=True)["studio"]["codec"]
    assert (
        codec["features"] is not None
        and codec["text"] is None
        and codec["labels"] == sorted({c.parent.name for c in clips})
    )
    out = tmp_path / "out"
    result = run_studio_here(
        ["classify", "--ckpt", str(ckpt), "--out_dir", str(out), str(clips[0])], tmp_path, studio_env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads(next(out.rglob("predictions.jsonl")).read_text())
    api = Generator.from_checkpoint(ckpt).classify(clips[0])
    assert (
        saved["label"] == api.label and saved["probabilities"] == api.probabilities and saved["name"] == str(clips[0])
    )
