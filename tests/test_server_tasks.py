"""The web studio reads the task records: classification and text tagging through the same routes and history."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient
from tiny_runs import trained

from studio.generation import Generator
from studio.generation.tasks import TASKS
from studio.server import create_app

pytestmark = pytest.mark.slow
RUNS = ("classifier", "word_tagger", "text", "midi")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("serve-tasks")
    for task in RUNS:
        shutil.copytree(trained(task, tmp_path_factory)["ckpt"].parent, root / "checkpoints" / task)
    with TestClient(create_app(root / "checkpoints", root / "samples")) as client:
        yield {"client": client, "root": root}


def test_the_page_gets_every_task_record(served: dict) -> None:
    tasks = served["client"].get("/api/tasks").json()["tasks"]
    assert set(tasks) == set(TASKS)
    assert tasks["classification"]["method"] == "classify" and tasks["classification"]["shape"] == "many-to-one"
    assert {s["name"] for s in tasks["text"]["settings"]} >= {"prompt", "length", "temperature", "seed"}
    runs = {
        run["name"]: run["task"] for run in served["client"].get("/api/runs").json()["runs"] if not run.get("bundle")
    }
    assert runs == {"classifier": "classification", "word_tagger": "text_tagging", "text": "text", "midi": "midi"}


def test_classify_pasted_text_and_an_uploaded_file(served: dict) -> None:
    client = served["client"]
    pasted = client.post("/api/classify", json={"run": "classifier", "text": "Nel mezzo del cammin di nostra vita"})
    assert pasted.status_code == 200, pasted.text
    record = pasted.json()
    assert record["task"] == "classification" and len(record["predictions"]) == 1
    prediction = record["predictions"][0]
    api = Generator.from_checkpoint(served["root"] / "checkpoints" / "classifier" / "last.ckpt").classify(
        "Nel mezzo del cammin di nostra vita"
    )
    assert prediction["label"] == api.label and prediction["probabilities"] == api.probabilities
    upload = client.post(
        "/api/classify",
        data={"run": "classifier"},
        files={"file": ("review.txt", b"Ihr naht euch wieder", "text/plain")},
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["predictions"][0]["name"] == "review.txt"
    history = client.get("/api/runs/classifier/history").json()["generations"]
    assert [g["task"] for g in history] == ["classification", "classification"]
    assert history[-1]["predictions"] == record["predictions"]  # a replay is the same record


def test_tag_pasted_sentences(served: dict) -> None:
    response = served["client"].post("/api/tag", json={"run": "word_tagger", "text": "my dear brother\nMein Busen"})
    assert response.status_code == 200, response.text
    tagged = response.json()["tagged"]
    assert [t["words"] for t in tagged] == [["my", "dear", "brother"], ["Mein", "Busen"]]
    assert all(len(t["labels"]) == len(t["words"]) for t in tagged)
    assert "tags.conll" in response.json()["files"]


@pytest.mark.parametrize(
    "path, body, status, needles",
    [
        ("/api/classify", {"run": "text", "text": "hi"}, 400, ["text run", "classification"]),
        ("/api/text", {"run": "classifier"}, 400, ["classification run"]),
        ("/api/classify", {"run": "classifier", "text": "   "}, 400, ["text is empty"]),
        ("/api/classify", {"run": "classifier", "text": "x" * 300_000}, 400, ["300,000 characters"]),
        ("/api/classify", {"run": "classifier", "text": "a", "threshold": 7}, 400, ["--threshold"]),
        ("/api/tag", {"run": "word_tagger", "text": "a", "beam_width": 2}, 400, ["beam_width"]),
        ("/api/midi", {"run": "midi", "primer": "/etc/passwd"}, 400, ["primer: upload the file"]),
    ],
    ids=["classify-a-text-run", "text-from-a-classifier", "empty", "too-long", "threshold", "foreign-setting", "path"],
)
def test_bad_requests_are_one_line_4xx(served: dict, path: str, body: dict, status: int, needles: list[str]) -> None:
    response = served["client"].post(path, json=body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert "\n" not in detail
    for needle in needles:
        assert needle in detail, detail


def test_a_body_over_the_cap_is_refused_before_it_is_parsed(served: dict) -> None:
    response = served["client"].post(
        "/api/text", content=b"{" + b" " * (2 * 1024**2) + b"}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "over the" in response.json()["detail"]


def test_bundled_models_are_listed_beside_the_runs_and_generate(
    tmp_path_factory: pytest.TempPathFactory, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from studio.generation import references

    bundles = tmp_path / "bundles"
    (bundles / "tiny-text").mkdir(parents=True)
    shutil.copy(trained("text", tmp_path_factory)["ckpt"], bundles / "tiny-text" / "model.ckpt")
    card = {
        "name": "tiny-text",
        "task": "text",
        "data": "a few lines",
        "held_out": {"loss": 2.5},
        "size_mb": 0.1,
        "steps": 77,
    }
    (bundles / "tiny-text" / "card.json").write_text(json.dumps(card))
    monkeypatch.setattr(references, "BUNDLES", bundles)
    with TestClient(create_app(tmp_path / "checkpoints", tmp_path / "samples")) as client:
        runs = client.get("/api/runs").json()["runs"]
        assert [(r["name"], r["task"], r.get("bundle")) for r in runs] == [("tiny-text", "text", True)]
        assert runs[0]["card"]["data"] == "a few lines" and runs[0]["best_val_loss"] == 2.5 and runs[0]["steps"] == 77
        response = client.post("/api/text", json={"run": "tiny-text", "length": 12, "seed": 3})
        assert response.status_code == 200, response.text
        done = next(json.loads(line) for line in response.text.splitlines() if '"done"' in line)
        assert done["generation"]["run"] == "tiny-text"
        assert client.get("/api/runs/tiny-text/metrics").json() == {"training": False, "series": {}}
        assert len(client.get("/api/runs/tiny-text/history").json()["generations"]) == 1
