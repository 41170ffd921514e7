"""A duet over the web studio's WebSocket: a phrase played, the model's answer streamed, cut, saved."""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from studio.server import create_app
from studio.server.live import LOOKAHEAD, MAX_MESSAGE_BYTES

TOKEN = "duet-token"
PHRASE = [(60, 0.0, 0.3), (64, 0.35, 0.6), (67, 0.7, 1.1), (72, 1.2, 1.5)]  # (pitch, start, end) on the page's clock


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    (tmp_path / "checkpoints").mkdir()
    with TestClient(create_app(tmp_path / "checkpoints", tmp_path / "samples", token=TOKEN)) as client:
        yield client


def _connect(client: TestClient, run: str = "bach-chorales", token: str = TOKEN):
    return client.websocket_connect(f"/api/live/{run}?checkpoint=last&token={token}")


def _play(ws, phrase=PHRASE, offset: float = 0.0) -> None:
    for pitch, start, end in phrase:
        ws.send_json({"type": "note_on", "pitch": pitch, "velocity": 90, "time": offset + start})
        ws.send_json({"type": "note_off", "pitch": pitch, "time": offset + end})


def _answer(ws) -> tuple[dict, list[dict], dict]:
    """The answer's announcement, its note events, and its end."""
    begun = _next(ws, "answer")
    events = []
    while True:
        message = ws.receive_json()
        if message["type"] == "answered":
            return begun, events, message
        assert message["type"] == "notes", message
        events += message["events"]


def _next(ws, kind: str) -> dict:
    while True:
        message = ws.receive_json()
        assert message["type"] != "error", message
        if message["type"] == kind:
            return message


def _settings(ws, **changes) -> None:
    ws.send_json({"type": "settings", "pause_ms": 150, "answer_seconds": 2, "seed": 3, **changes})


def test_the_model_answers_a_phrase_after_the_pause_and_again_after_the_next(client: TestClient) -> None:
    with _connect(client) as ws:
        ready = _next(ws, "ready")
        assert ready["step_seconds"] == pytest.approx(0.01) and ready["lookahead"] == LOOKAHEAD
        _settings(ws)
        _play(ws)
        begun, events, done = _answer(ws)
        assert begun["start"] == pytest.approx(1.5 + 0.15 + LOOKAHEAD)  # the last key up, the pause, the lookahead
        assert events and all(begun["start"] <= e["time"] <= done["end"] + 1e-6 for e in events)
        sounding: set[int] = set()
        for event in events:  # every note the answer starts it also ends, in time order
            if event["kind"] == "on":
                assert event["pitch"] not in sounding and 1 <= event["velocity"] <= 127
                sounding.add(event["pitch"])
            else:
                sounding.remove(event["pitch"])
        assert not sounding and [e["time"] for e in events] == sorted(e["time"] for e in events)
        assert done["end"] <= begun["start"] + 2 + 0.01 + 1.0  # the answer's length (a last shift may pass it)
        # The next phrase, after the answer: the model remembers the duet and answers again.
        _play(ws, offset=done["end"] + 0.5)
        again, more, _ = _answer(ws)
        assert again["turn"] == 2 and more


def test_the_same_seed_and_phrase_give_the_same_answer(client: TestClient) -> None:
    answers = []
    for _ in range(2):
        with _connect(client) as ws:
            _settings(ws, temperature=0.9)
            _play(ws)
            answers.append(_answer(ws)[1])
    assert answers[0] == answers[1] and answers[0]
    with _connect(client) as ws:
        _settings(ws, temperature=0.9, seed=4)
        _play(ws)
        assert _answer(ws)[1] != answers[0]


def test_playing_over_an_answer_cuts_it_and_the_duet_goes_on(client: TestClient, tmp_path: Path) -> None:
    with _connect(client) as ws:
        _settings(ws, answer_seconds=4, temperature=0.8)
        _play(ws)
        _, events, done = _answer(ws)
        over = next(e["time"] for e in events if e["kind"] == "on") + 0.25  # a note of the answer was heard
        assert over < done["end"]
        ws.send_json({"type": "note_on", "pitch": 62, "velocity": 80, "time": over})
        cut = _next(ws, "cut")
        assert cut["at"] == pytest.approx(over, abs=0.011)
        ws.send_json({"type": "note_off", "pitch": 62, "time": over + 0.4})
        _, more, _ = _answer(ws)
        assert more
        ws.send_json({"type": "save"})
        saved = _next(ws, "saved")["generation"]
    assert saved["task"] == "midi" and saved["settings"]["duet"]["turns"] == 2
    folder = next((tmp_path / "samples" / "bach-chorales").iterdir())
    assert folder.name.startswith("duet-") and {"sample_1.mid", "sample_1.wav", "settings.json"} <= {
        p.name for p in folder.iterdir()
    }
    score = pretty_midi.PrettyMIDI(str(folder / "sample_1.mid"))
    person, model = score.instruments
    assert [n.pitch for n in person.notes] == [60, 64, 67, 72, 62]
    heard = [n for n in model.notes if n.start < over]  # the first answer up to the cut (times as played: from 0)
    assert heard and all(n.end <= over + 0.011 for n in heard)  # what sounded at the cut ends there
    later = [n for n in model.notes if n.start >= over]
    assert later and min(n.start for n in later) > over + 0.4  # the second answer, after the person's note


def test_bad_messages_are_one_line_and_floods_are_dropped(client: TestClient) -> None:
    with _connect(client) as ws:
        _next(ws, "ready")
        ws.send_text("not json")
        assert ws.receive_json()["type"] == "error"
        ws.send_json({"type": "note_on", "pitch": 200, "velocity": 90, "time": 0.1})
        assert "pitch 0-127" in ws.receive_json()["detail"]
        ws.send_json({"type": "settings", "pause_ms": 10})
        assert "pause_ms" in ws.receive_json()["detail"]
        ws.send_text(json.dumps({"type": "note_on", "pad": "x" * MAX_MESSAGE_BYTES}))
        assert "not a note" in ws.receive_json()["detail"]
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()


def test_only_midi_runs_with_the_token_can_play(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), _connect(client, token="wrong") as ws:
        ws.receive_json()
    with _connect(client, run="lady-susan") as ws:
        assert "text run" in ws.receive_json()["detail"]
    with _connect(client, run="no-such-run") as ws:
        assert ws.receive_json()["type"] == "error"
