"""Text tagging end to end: `studio fit` on the embedded mixed-language sentences, `studio tag` on text,
`Generator.tag` and `studio evaluate` on CoNLL files and on the run's own test split."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error, run_studio_here
from tiny_runs import trained

from studio.generation import Generator

pytestmark = pytest.mark.slow

SENTENCES = [
    "I am , Sir , your most humble servant , dentro la sua vita",
    "Mein Busen fühlt sich jugendlich erschüttert",
]


def _tag(run: dict, tmp_path: Path, *args: str, stdin: str = "") -> tuple[str, Path]:
    out = tmp_path / "out"
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        result = run_studio_here(
            ["tag", "--ckpt", str(run["ckpt"]), "--out_dir", str(out), *args], run["work"], run["env"]
        )
    finally:
        sys.stdin = saved
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, next((out / "word_tagger").iterdir())


def test_fit_writes_a_text_tagging_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> None:
    run = trained("word_tagger", tmp_path_factory)
    checkpoint = torch.load(run["ckpt"], weights_only=True)
    assert checkpoint["studio"]["task"] == "text_tagging"
    codec = checkpoint["studio"]["codec"]
    assert codec["kind"] == "word_tags" and "B-DE" in codec["labels"] and "O" in codec["labels"]
    assert ",val_span_f1," in (run["ckpt"].parent / "metrics.csv").read_text()


def test_tag_reads_files_and_stdin_and_agrees_with_the_api(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("word_tagger", tmp_path_factory)
    text = tmp_path / "two.txt"
    text.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    stdout, folder = _tag(run, tmp_path, str(text), "-", stdin=SENTENCES[0] + "\n")
    records = [json.loads(line) for line in (folder / "tags.jsonl").read_text().splitlines()]
    assert [r["name"] for r in records] == [f"{text}:1", f"{text}:2", "stdin:1"]
    assert records[0]["words"][:4] == ["I", "am", ",", "Sir"] and len(records[0]["labels"]) == len(records[0]["words"])
    conll = (folder / "tags.conll").read_text().split("\n\n")
    assert conll[0].splitlines()[0].split("\t")[0] == "I" and len(conll[0].splitlines()) == len(records[0]["words"])
    api = Generator.from_checkpoint(run["ckpt"]).tag(SENTENCES)
    assert [t.labels for t in api] == [r["labels"] for r in records[:2]]  # one function behind both
    assert api[0].words == records[0]["words"]
    assert stdout.startswith(f"{text}:1: I am")
    assert json.loads((folder / "settings.json").read_text())["task"] == "text_tagging"


def test_evaluate_scores_conll_files_and_the_runs_test_split(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("word_tagger", tmp_path_factory)
    data = tmp_path / "held.conll"
    data.write_text("Mein O\nHerz O\ncher B-FR\nami I-FR\n.\tO\n\nthe B-EN\nDom O\n\n", encoding="utf-8")
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--data", str(data)], run["work"], run["env"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "span F1" in result.stdout and "commonest-tag baseline accuracy" in result.stdout
    report = json.loads(next((run["work"] / "samples" / "word_tagger").glob("eval-*/evaluation.json")).read_text())
    assert report["text_tagging"]["tokens"] == 7 and report["text_tagging"]["reference"] == 2
    split = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--split", "test"], run["work"], run["env"])
    assert split.returncode == 0, split.stderr[-3000:]
    assert "words" in split.stdout


def test_a_conll_file_with_a_tag_the_tagger_never_learned_is_named(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("word_tagger", tmp_path_factory)
    data = tmp_path / "other.conll"
    data.write_text("Paris B-LOC\n\n", encoding="utf-8")
    result = run_studio_here(["evaluate", "--ckpt", str(run["ckpt"]), "--data", str(data)], run["work"], run["env"])
    assert_one_line_error(result, "other.conll:1", "'B-LOC'", "not one the tagger knows")


def test_tag_flags_of_the_speech_tagger_are_refused_for_text(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    run = trained("word_tagger", tmp_path_factory)
    (tmp_path / "t.txt").write_text("hello\n", encoding="utf-8")
    result = run_studio_here(
        ["tag", "--ckpt", str(run["ckpt"]), "--beam_width", "4", str(tmp_path / "t.txt")], run["work"], run["env"]
    )
    assert_one_line_error(result, "text_tagging checkpoint", "--beam_width applies to speech tagging checkpoints")
