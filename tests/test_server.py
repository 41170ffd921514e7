"""The web studio's API, in-process (FastAPI's TestClient) over tiny real runs of each task."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from tiny_runs import trained

from studio.generation import Generator
from studio.generation.sampling import SamplingSettings
from studio.generation.text import text_rows
from studio.server import create_app
from studio.server.text_batcher import TextBatcher, TextJob

TASKS = {"text": "text", "midi": "midi", "tagger": "speech_tagging"}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One checkpoints folder holding a tiny text, MIDI and tagging run, and an empty samples folder."""
    root = tmp_path_factory.mktemp("serve")
    for task in TASKS:
        run = trained(task, tmp_path_factory)
        shutil.copytree(run["ckpt"].parent, root / "checkpoints" / task)
    clips = sorted((trained("tagger", tmp_path_factory)["work"] / "corpus").glob("*/U00[01].wav"))
    return {"checkpoints": root / "checkpoints", "samples": root / "samples", "clip": clips[0], "root": root}


@pytest.fixture(scope="module")
def client(folders: dict[str, Path]) -> TestClient:
    with TestClient(create_app(folders["checkpoints"], folders["samples"])) as test_client:
        yield test_client


def _lines(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def _assert_one_line_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert "\n" not in detail and "Traceback" not in detail
    for word in words:
        assert word in detail, detail


def test_the_page_and_its_files_are_served_offline(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    for src in ("http://", "https://"):
        assert f'src="{src}' not in page.text and f'href="{src}' not in page.text  # nothing from a CDN


def test_runs_lists_every_task_with_its_model_and_progress(client: TestClient) -> None:
    listed = client.get("/api/runs").json()["runs"]
    runs = {run["name"]: run for run in listed if not run.get("bundle")}  # the package's bundled models come after
    assert {name: run["task"] for name, run in runs.items()} == TASKS
    assert [run["name"] for run in listed[: len(runs)]] == list(runs)
    for run in runs.values():
        assert run["steps"] > 0 and run["model"]["hidden_size"] > 0
        assert "last" in run["checkpoints"] and run["training"] is False
    assert runs["tagger"]["labels"] and runs["text"]["labels"] is None
    # What each loss is counted per, so the page overlays the curves of one unit only.
    units = {name: run["loss_unit"] for name, run in runs.items()}
    assert units == {"text": "nats per character", "midi": "nats per event", "tagger": "nats per labelled frame"}
    bundled = {run["name"]: run["loss_unit"] for run in listed if run.get("bundle")}
    assert bundled["six-languages"] == "nats per input" and bundled["foreign-passages"] == "nats per word"


def test_text_streams_and_matches_the_python_api(client: TestClient, folders: dict[str, Path]) -> None:
    body = {"run": "text", "prompt": "The ", "length": 40, "num_samples": 2, "temperature": 0.9, "seed": 5}
    response = client.post("/api/text", json=body)
    events = _lines(response)
    chunks = [e for e in events if e["event"] == "chunk"]
    done = events[-1]
    assert done["event"] == "done" and len(chunks) > 2
    texts = done["generation"]["texts"]
    streamed = ["".join(e["text"] for e in chunks if e["sample"] == i) for i in range(2)]
    assert streamed == texts
    api = Generator.from_checkpoint(folders["checkpoints"] / "text" / "last.ckpt")
    assert texts == api.text(
        prompt="The ", length=40, num_samples=2, temperature=0.9, seed=5
    )  # the same function as the CLI
    folder = folders["samples"] / "text" / done["generation"]["folder"]
    assert [p.read_text() for p in sorted(folder.glob("sample_*.txt"))] == texts
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["seed"] == 5 and settings["interrupted"] is False
    saved = client.get(done["generation"]["files"]["sample_1.txt"])
    assert saved.status_code == 200 and saved.text == texts[0]


def test_midi_pieces_come_with_notes_audio_and_pictures(client: TestClient) -> None:
    form = {"run": "midi", "seconds": "3", "num_samples": "2", "seed": "3"}
    generation = client.post("/api/midi", data=form).json()
    assert generation["task"] == "midi" and len(generation["pieces"]) == 2
    for piece in generation["pieces"]:
        assert piece["notes"] and all(n["end"] > n["start"] >= 0 for n in piece["notes"])
        assert piece["notes"][0]["name"][0] in "CDEFGAB"
        audio = client.get(piece["files"]["wav"])
        assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
        assert client.get(piece["files"]["png"]).content[:4] == b"\x89PNG"


def test_a_primer_upload_begins_the_piece(client: TestClient, folders: dict[str, Path]) -> None:
    first = client.post("/api/midi", data={"run": "midi", "seconds": "2", "seed": "1"}).json()
    primer = folders["samples"] / "midi" / first["folder"] / "sample_1.mid"
    with open(primer, "rb") as handle:
        files = {"primer": ("primer.mid", handle, "audio/midi")}
        primed = client.post("/api/midi", data={"run": "midi", "seconds": "4", "seed": "2"}, files=files).json()
    opening = [(n["pitch"], n["start"]) for n in first["pieces"][0]["notes"] if n["end"] < 1.5]
    continued = [(n["pitch"], n["start"]) for n in primed["pieces"][0]["notes"]]
    assert opening and all(note in continued for note in opening)
    assert primed["settings"]["primer"] == "primer.mid"


def test_tagging_an_uploaded_wav_gives_labels_on_a_timeline(client: TestClient, folders: dict[str, Path]) -> None:
    with open(folders["clip"], "rb") as handle:
        generation = client.post("/api/tag", data={"run": "tagger"}, files={"audio": ("clip.wav", handle)}).json()
    assert generation["task"] == "speech_tagging" and generation["spans"]
    assert generation["duration"] > 0 and len(generation["waveform"]) > 100
    assert all(s["end"] >= s["start"] for s in generation["spans"])
    phn = client.get(generation["files"]["clip.phn"]).text
    assert len(phn.splitlines()) == len(generation["spans"])


def test_metrics_and_history(client: TestClient) -> None:
    metrics = client.get("/api/runs/text/metrics").json()
    assert metrics["training"] is False and metrics["series"]["train_loss"][-1][0] > 0  # [step, loss] pairs
    client.post("/api/text", json={"run": "text", "length": 10, "seed": 77})
    generations = client.get("/api/runs/text/history").json()["generations"]
    assert generations[0]["settings"]["seed"] == 77 and generations[0]["task"] == "text"
    assert generations[0]["texts"][0].startswith("\n")


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "words"),
    [
        ("post", "/api/text", {"run": "../text"}, 400, ("not a run name",)),
        ("post", "/api/text", {"run": "nope"}, 404, ("no run",)),
        ("post", "/api/text", {"run": "text", "checkpoint": "/etc/passwd"}, 400, ("'last' or 'best'",)),
        ("post", "/api/text", {"run": "text", "temperature": -1}, 400, ("temperature",)),
        ("post", "/api/text", {"run": "text", "top_p": 0}, 400, ("top_p",)),
        ("post", "/api/text", {"run": "text", "num_samples": 100000}, 400, ("num_samples",)),
        ("post", "/api/text", {"run": "text", "length": "long"}, 422, ("length",)),
        ("post", "/api/text", {"run": "text", "seed": 2**70}, 400, ("seed",)),
        ("post", "/api/text", {"run": "text", "prompt": "\u2603"}, 400, ("never saw",)),
        ("post", "/api/text", {"run": "midi"}, 400, ("midi run",)),
        ("get", "/api/runs/..%2F..%2Fetc/metrics", None, 404, ()),
        ("get", "/api/runs/.hidden/metrics", None, 400, ("not a run name",)),
        ("get", "/files/text/..%2F..%2F/passwd", None, 404, ()),
        ("get", "/files/text/x/..", None, 404, ()),
    ],
)
def test_bad_requests_are_one_line_4xx(client: TestClient, method: str, url: str, payload, status: int, words) -> None:
    response = client.post(url, json=payload) if method == "post" else client.get(url)
    if status == 404 and not words:
        assert 400 <= response.status_code < 500, response.text
        return
    _assert_one_line_error(response, status, *words)


def test_bad_uploads_are_refused_and_nothing_is_kept(client: TestClient, folders: dict[str, Path]) -> None:
    before = sorted(folders["samples"].rglob("*"))
    fake = client.post("/api/tag", data={"run": "tagger"}, files={"audio": ("a.wav", b"not audio at all")})
    _assert_one_line_error(fake, 400, "a.wav", "not a WAV")
    huge = client.post(
        "/api/midi", data={"run": "midi"}, files={"primer": ("big.mid", b"MThd" + b"\0" * (11 * 1024**2))}
    )
    _assert_one_line_error(huge, 413, "big.mid", "10 MB")
    broken = client.post("/api/midi", data={"run": "midi"}, files={"primer": ("b.mid", b"MThd\0\0\0\6garbage")})
    assert 400 <= broken.status_code < 500 and "\n" not in broken.json()["detail"]
    beams = client.post("/api/midi", data={"run": "midi", "beam_size": "1000", "branch_factor": "1000"})
    _assert_one_line_error(beams, 400, "beam_size")
    assert sorted(folders["samples"].rglob("*")) == before


def test_links_that_leave_the_checkpoints_folder_are_refused(client: TestClient, folders: dict[str, Path]) -> None:
    outside = folders["root"] / "elsewhere"
    shutil.copytree(folders["checkpoints"] / "text", outside)
    (folders["checkpoints"] / "escape").symlink_to(outside)
    try:
        _assert_one_line_error(client.post("/api/text", json={"run": "escape"}), 400, "outside")
    finally:
        (folders["checkpoints"] / "escape").unlink()


def test_a_token_is_required_when_set(folders: dict[str, Path]) -> None:
    with TestClient(create_app(folders["checkpoints"], folders["samples"], token="s3cret")) as guarded:
        assert guarded.get("/api/runs").status_code == 401
        assert guarded.get("/api/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert guarded.get("/api/runs", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        page = guarded.get("/?token=s3cret")
        assert page.status_code == 200 and 'src="static/app.js?token=s3cret"' in page.text
        assert guarded.get("/static/app.js").status_code == 401
        assert guarded.get("/static/app.js?token=s3cret").status_code == 200


def _double(generator: Generator) -> Generator:
    generator.loaded.model.double()
    return generator


def test_concurrent_requests_are_batched_and_each_gets_what_it_gets_alone(folders: dict[str, Path]) -> None:
    """In float64, where batched and single-row products round alike, batching changes no request's text."""
    generator = _double(Generator.from_checkpoint(folders["checkpoints"] / "text" / "last.ckpt"))
    codec = generator.loaded.codec
    asks = [
        ("The ", 30, 2, SamplingSettings(), 1),
        ("A", 45, 1, SamplingSettings(0.7, 5), 2),
        ("", 20, 3, SamplingSettings(top_p=0.8), 3),
    ]

    def run(batcher: TextBatcher, requests: list) -> list[list[str]]:
        results: list = [None] * len(requests)
        finished = threading.Semaphore(0)
        for i, (prompt, length, n, settings, seed) in enumerate(requests):
            text, rows = text_rows(codec, prompt, length, n, settings, seed)

            def listen(event: tuple, i: int = i) -> None:
                if event[0] in ("done", "error"):
                    results[i] = event[1]
                    finished.release()

            batcher.submit(TextJob(generator, text, rows, listen))
        for _ in requests:
            assert finished.acquire(timeout=60)
        return results

    together = TextBatcher(window_s=0.5)
    batched = run(together, asks)
    together.close()
    assert together.batches == [3]
    alone = []
    for ask in asks:
        single = TextBatcher(window_s=0.0)
        alone += run(single, [ask])
        single.close()
    assert batched == alone
    assert batched[1] == generator.text(
        prompt="A", length=45, num_samples=1, temperature=0.7, top_k=5, top_p=1.0, seed=2
    )


def test_a_stopped_request_keeps_what_it_had(folders: dict[str, Path]) -> None:
    generator = Generator.from_checkpoint(folders["checkpoints"] / "text" / "last.ckpt")
    text, rows = text_rows(generator.loaded.codec, "The ", 5000, 1, SamplingSettings(), 9)
    events: list = []
    stopped = threading.Event()

    def listen(event: tuple) -> None:
        events.append(event)
        if event[0] == "chunk" and len(events) == 3:
            job.cancelled.set()
        if event[0] in ("done", "error"):
            stopped.set()

    job = TextJob(generator, text, rows, listen, finish=lambda texts, interrupted: (texts, interrupted))
    batcher = TextBatcher(window_s=0.0)
    batcher.submit(job)
    assert stopped.wait(60)
    batcher.close()
    texts, interrupted = events[-1][1]
    assert interrupted and len("The ") < len(texts[0]) < len("The ") + 5000
    assert texts == [generator.text(prompt="The ", length=5000, num_samples=1, seed=9)[0][: len(texts[0])]]
    assert torch.get_num_threads() >= 1


def test_metrics_of_the_early_column_layout_still_read(tmp_path: Path) -> None:
    from studio.server.runs import read_metrics

    (tmp_path / "metrics.csv").write_text(
        "step,epoch,train_loss,val_loss,time\n10,0,2.5,,1\n20,0,2.1,1.9,2\n20,0,,x,3\n"
    )
    assert read_metrics(tmp_path) == {"train_loss": [[10, 2.5], [20, 2.1]], "val_loss": [[20, 1.9]]}


def test_a_prompt_and_a_form_are_capped_before_any_work(client: TestClient) -> None:
    """A prompt longer than a page may send is refused before it is tokenised; a form body over its cap, unread."""
    long = client.post("/api/text", json={"run": "text", "prompt": "a" * 20_001, "length": 5})
    _assert_one_line_error(long, 400, "prompt", "20000")
    huge = client.post(
        "/api/tag",
        content=b"x" * 100,
        headers={"content-type": "multipart/form-data; boundary=b", "content-length": str(10**9)},
    )
    _assert_one_line_error(huge, 413, "1,000,000,000 bytes")


def test_requests_past_the_time_limit_end_with_a_503_not_a_hang(folders: dict[str, Path]) -> None:
    """A generation running past the limit is stopped at its next step (503); streamed text ends with an error line
    after what it streamed; a request that cannot get a worker within the limit is turned away (503)."""
    app = create_app(folders["checkpoints"], folders["samples"], request_seconds=0.5)
    with TestClient(app) as limited:
        before = sorted(folders["samples"].rglob("*.mid"))
        midi = limited.post("/api/midi", json={"run": "midi", "seconds": 300, "num_samples": 8, "render": False})
        _assert_one_line_error(midi, 503, "ran past the 0.5 s", "--request_seconds")
        assert sorted(folders["samples"].rglob("*.mid")) == before  # nothing half-made is kept
        text = _lines(limited.post("/api/text", json={"run": "text", "length": 10_000, "num_samples": 16}))
        assert text[0]["event"] == "chunk" and text[-1]["event"] == "error"
        assert "ran past the 0.5 s" in text[-1]["message"]
        studio = app.state.studio
        for _ in range(2):  # both workers busy
            studio.heavy.acquire()
        try:
            busy = limited.post("/api/midi", json={"run": "midi", "seconds": 1, "render": False})
        finally:
            for _ in range(2):
                studio.heavy.release()
        _assert_one_line_error(busy, 503, "busy")
