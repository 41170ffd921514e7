"""Play with a MIDI model: one WebSocket per duet, `/api/live/{run}?checkpoint=last&token=...`.

The page sends what the person plays, with times in seconds on its audio clock:

    {"type": "settings", "pause_ms": 600, "answer_seconds": 4, "temperature": 1.0, "top_k": 0, "top_p": 1,
     "seed": 0, "notes_per_second": null, "pitch_class_histogram": null}   (first, and whenever they change)
    {"type": "note_on", "pitch": 60, "velocity": 90, "time": 12.345}
    {"type": "note_off", "pitch": 60, "time": 12.8}
    {"type": "pedal", "down": true, "time": 13.0}
    {"type": "save"}

and hears back:

    {"type": "ready", "run": ..., "step_seconds": 0.01, "pause_ms": 600, "lookahead": 0.05}
    {"type": "answer", "turn": 1, "start": 14.25}                  the model starts answering at `start`
    {"type": "notes", "turn": 1, "events": [{"kind": "on", "pitch": 64, "velocity": 80, "time": 14.25}, ...]}
    {"type": "answered", "turn": 1, "end": 18.1}
    {"type": "cut", "turn": 1, "at": 15.0}                           the person played over it: cut there
    {"type": "saved", "generation": {...}}                          as the history lists it
    {"type": "error", "detail": "one line"}

The model answers once no key has been down for `pause_ms` after a phrase; its notes stream as they are
drawn, stamped with the times they should sound (`lookahead` after the pause ends, so the page can
schedule them on its audio clock). A note played over an answer cuts it: the model keeps only what was
heard and listens. Sessions are capped in number, close after `IDLE_SECONDS` without a message, and a
client that floods messages or stops reading is dropped; the server stays up.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from studio.errors import StudioError
from studio.generation.duet import Duet, DuetSettings, NoteEvent, answer_into
from studio.generation.midi import Piece
from studio.generation.outputs import SampleFolder
from studio.generation.saving import save_results
from studio.generation.tasks import find_task
from studio.generation.tasks.midi import MidiRequest

MAX_SESSIONS = 16
IDLE_SECONDS = 600.0
MAX_MESSAGE_BYTES = 2048
MAX_MESSAGES_PER_SECOND = 400  # a person with ten fingers and a pedal sends far fewer
MAX_QUEUED = 2000  # messages waiting for a client that does not read
SEND_SECONDS = 5.0  # a send that takes longer means the client stopped reading
LOOKAHEAD = 0.05  # seconds between the end of the pause and the first note of an answer
PAUSE_MS = (100, 5000)


class Dropped(Exception):
    """The client broke the session's rules: the one line it is told before it is closed."""


@dataclass
class LiveSession:
    """A duet and what serves it: its own worker thread (model calls one at a time) and its outgoing queue."""

    duet: Duet
    run: str
    path: Path
    pause: float = 0.6
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=1))
    outbox: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED))
    timer: Optional[asyncio.TimerHandle] = None
    last_time: float = 0.0  # the page's clock at its latest message
    answering: bool = False
    window: list[float] = field(default_factory=list)  # arrival times of the last second's messages

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message for the client; a client that lets the queue fill is dropped."""
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            raise Dropped("the page stopped reading the model's answers: reconnect") from None

    def count(self) -> None:
        """Count an incoming message; too many in a second drops the client."""
        now = time.monotonic()
        self.window = [t for t in self.window if now - t < 1.0]
        self.window.append(now)
        if len(self.window) > MAX_MESSAGES_PER_SECOND:
            raise Dropped(f"more than {MAX_MESSAGES_PER_SECOND} messages a second: a person does not play that fast")


def add_live_routes(app: FastAPI, studio: Any) -> None:
    """The duet WebSocket of the web studio (`studio` is its `Studio`: token, runs, models, samples)."""
    sessions: set[int] = set()

    @app.websocket("/api/live/{run}")
    async def live(websocket: WebSocket, run: str, checkpoint: str = "last", token: str = "") -> None:
        if studio.token and not hmac.compare_digest(token.encode(), studio.token.encode()):
            await websocket.close(code=1008, reason="this studio needs its token")
            return
        await websocket.accept()
        if len(sessions) >= MAX_SESSIONS:
            await _refuse(websocket, f"{MAX_SESSIONS} duets are playing already: try again when one ends")
            return
        try:
            generator, path = await asyncio.to_thread(studio.generator, run, checkpoint, "midi")
            duet = Duet(generator.loaded.model, generator.loaded.codec)
        except StudioError as error:  # no such run, not a MIDI run, a damaged checkpoint
            await _refuse(websocket, _line(error))
            return
        session = LiveSession(duet, run, path)
        sessions.add(id(session))
        sender = asyncio.create_task(_send_all(websocket, session))
        try:
            session.send(
                {
                    "type": "ready",
                    "run": run,
                    "step_seconds": duet.codec.step_seconds,
                    "pause_ms": round(session.pause * 1000),
                    "lookahead": LOOKAHEAD,
                }
            )
            await _listen(websocket, session, studio)
        except Dropped as error:
            await _refuse(websocket, str(error))
        except WebSocketDisconnect:
            pass
        finally:
            sessions.discard(id(session))
            if session.timer is not None:
                session.timer.cancel()
            duet.stop.set()
            sender.cancel()
            session.executor.shutdown(wait=False, cancel_futures=True)


async def _refuse(websocket: WebSocket, detail: str) -> None:
    """Tell the client why in one line, and close."""
    try:
        await websocket.send_json({"type": "error", "detail": detail})
        await websocket.close(code=1008)
    except (WebSocketDisconnect, RuntimeError):
        pass


async def _send_all(websocket: WebSocket, session: LiveSession) -> None:
    """Send queued messages in order; a client that does not take one in time is closed."""
    try:
        while True:
            message = await session.outbox.get()
            await asyncio.wait_for(websocket.send_text(json.dumps(message)), SEND_SECONDS)
    except (asyncio.TimeoutError, WebSocketDisconnect, RuntimeError):
        await websocket.close(code=1008)


async def _listen(websocket: WebSocket, session: LiveSession, studio: Any) -> None:
    """Read the client's messages until it leaves (or breaks a rule)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            raw = await asyncio.wait_for(websocket.receive_text(), IDLE_SECONDS)
        except asyncio.TimeoutError:
            raise Dropped(
                f"no note for {IDLE_SECONDS / 60:g} minutes: the duet ended (reconnect to play again)"
            ) from None
        session.count()
        if len(raw) > MAX_MESSAGE_BYTES:
            raise Dropped(f"a message of {len(raw)} bytes is not a note: at most {MAX_MESSAGE_BYTES}")
        try:
            message = json.loads(raw)
            if not isinstance(message, dict):
                raise ValueError
            await _handle(message, session, studio, loop)
        except (ValueError, TypeError, KeyError) as error:
            session.send(
                {"type": "error", "detail": f"a message the duet cannot read ({_line(error)}): see the protocol"}
            )
        except StudioError as error:
            session.send({"type": "error", "detail": _line(error)})


async def _handle(message: dict[str, Any], session: LiveSession, studio: Any, loop: asyncio.AbstractEventLoop) -> None:
    kind = message.get("type")
    duet = session.duet
    if kind == "settings":
        await _settings(message, session, loop)
    elif kind in ("note_on", "note_off", "pedal"):
        at = _number(message, "time")
        session.last_time = max(session.last_time, at)
        if kind == "note_on":
            duet.stop.set()  # an answer being drawn stops within one event
            pitch, velocity = int(message["pitch"]), int(message.get("velocity", 80))
            cut = await _run(session, loop, _play_over, duet, at, pitch, velocity)
            if cut is not None:
                session.send({"type": "cut", "turn": duet.turns, "at": cut})
        elif kind == "note_off":
            await _run(session, loop, duet.release, at, int(message["pitch"]))
        else:
            await _run(session, loop, duet.pedal, at, bool(message.get("down")))
        _schedule(session, loop)
    elif kind == "save":
        record = await _run(session, loop, _save, session, studio)
        session.send({"type": "saved", "generation": record})
    else:
        raise ValueError(f"unknown type {kind!r}")


def _play_over(duet: Duet, at: float, pitch: int, velocity: int) -> Optional[float]:
    """A key down: if an answer was still sounding, cut it there first; the time of the cut, if any."""
    cut = None
    if duet.turns and at < duet.free_from:
        duet.cut(at)
        cut = duet.free_from
    duet.press(at, pitch, velocity)
    return cut


async def _settings(message: dict[str, Any], session: LiveSession, loop: asyncio.AbstractEventLoop) -> None:
    pause_ms = float(message.get("pause_ms", session.pause * 1000))
    if not PAUSE_MS[0] <= pause_ms <= PAUSE_MS[1]:
        raise StudioError(f"pause_ms {pause_ms:g} must be from {PAUSE_MS[0]} to {PAUSE_MS[1]}, e.g. 600")
    histogram = message.get("pitch_class_histogram")
    settings = DuetSettings(
        answer_seconds=float(message.get("answer_seconds", 4.0)),
        temperature=float(message.get("temperature", 1.0)),
        top_k=int(message.get("top_k", 0)),
        top_p=float(message.get("top_p", 1.0)),
        seed=int(message.get("seed", 0)),
        notes_per_second=None if message.get("notes_per_second") is None else float(message["notes_per_second"]),
        pitch_class_histogram=None if histogram is None else tuple(float(w) for w in histogram),
    )

    await _run(session, loop, session.duet.configure, settings)
    session.pause = pause_ms / 1000


def _schedule(session: LiveSession, loop: asyncio.AbstractEventLoop) -> None:
    """(Re)start the pause: the model answers once it has passed with no key down."""
    if session.timer is not None:
        session.timer.cancel()
    session.timer = loop.call_later(session.pause, lambda: asyncio.ensure_future(_answer(session, loop)))


async def _answer(session: LiveSession, loop: asyncio.AbstractEventLoop) -> None:
    duet = session.duet
    if duet.holding or not duet.playing or session.answering:
        return
    session.answering = True
    start = session.last_time + session.pause + LOOKAHEAD
    turn = duet.turns + 1
    session.send({"type": "answer", "turn": turn, "start": start})

    def deliver(events: list[NoteEvent]) -> None:
        message = {"type": "notes", "turn": turn, "events": [_event(e) for e in events]}
        loop.call_soon_threadsafe(_queue, session, message)

    try:
        await _run(session, loop, answer_into, duet, start, deliver)
        session.send({"type": "answered", "turn": turn, "end": duet.free_from})
    finally:
        session.answering = False
    if duet.playing:  # the person began a phrase while the answer was drawn: its pause counts from its last note
        _schedule(session, loop)


def _queue(session: LiveSession, message: dict[str, Any]) -> None:
    try:
        session.send(message)
    except Dropped:
        session.duet.stop.set()


def _event(event: NoteEvent) -> dict[str, Any]:
    return {"kind": event.kind, "pitch": event.pitch, "velocity": event.velocity, "time": round(event.time, 4)}


def _save(session: LiveSession, studio: Any) -> dict[str, Any]:
    """The duet as a MIDI generation of the run: .mid, .wav and .png, listed in its history."""
    from studio.server.history import generation_record

    duet = session.duet
    score = duet.score()
    if not any(track.notes for track in score.instruments):
        raise StudioError("nothing was played yet: play a phrase, let the model answer, then save")
    seconds = max(score.get_end_time(), duet.codec.step_seconds)
    settings = duet.settings
    request = MidiRequest(
        seconds=seconds,
        temperature=settings.temperature,
        top_k=settings.top_k,
        top_p=settings.top_p,
        seed=settings.seed,
        notes_per_second=settings.notes_per_second,
        pitch_class_histogram=settings.pitch_class_histogram,
    )
    with SampleFolder(studio.samples, session.path, settings.seed, prefix="duet") as folder:
        extra = dict(
            studio.settings(session.path),
            interrupted=False,
            duet={"turns": duet.turns, "pause_ms": round(session.pause * 1000)},
        )
        save_results(folder, find_task("midi"), [Piece(duet.events(), score, seconds)], request, **extra)
    assert folder.path is not None
    return generation_record(studio.samples, session.run, folder.path)


async def _run(session: LiveSession, loop: asyncio.AbstractEventLoop, work: Callable[..., Any], *args: Any) -> Any:
    """Run `work(*args)` on the session's own thread, after what was asked of it before."""
    return await loop.run_in_executor(session.executor, lambda: work(*args))


def _number(message: dict[str, Any], key: str) -> float:
    value = message[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{key} must be a number")
    return float(value)


def _line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__
