"""The web studio: a FastAPI app serving one page and a JSON API over the runs in a checkpoints folder.

Generation goes through `studio.generation` (never the command line): text through the batcher, which
joins concurrent requests into one batch; MIDI and tagging in worker threads. Everything generated is
saved under `samples/<run>/` as `studio sample` and `studio tag` save it. Every bad request is a 4xx
with a one-line `detail`; no traceback ever reaches a response. A generation request has a time limit
(`studio.server.deadline`): past it, a 503, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import json
import logging
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from studio.codecs.speech import read_audio
from studio.errors import StudioError
from studio.generation import Generator
from studio.generation.decoding import check_request
from studio.generation.inputs import AudioClip
from studio.generation.outputs import SampleFolder
from studio.generation.requests import SettingTypeError, options
from studio.generation.saving import save_results
from studio.generation.tasks import TASKS, tasks_with
from studio.generation.text import text_rows
from studio.server.bodies import Body, read_body, web_request, web_texts
from studio.server.deadline import REQUEST_SECONDS, Deadline, TooLong
from studio.server.history import generation_record, history, sample_file, waveform
from studio.server.live import add_live_routes
from studio.server.model_cache import ModelCache
from studio.server.runs import NotFound, RunCatalog, checkpoint_path, is_bundle, read_metrics, run_folder, training_now
from studio.server.text_batcher import TextBatcher, TextJob
from studio.server.uploads import (
    AUDIO_UPLOAD,
    MIDI_UPLOAD,
    TEXT_UPLOAD,
    UploadKind,
    UploadTooLarge,
    read_capped,
    temporary_file,
)

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("studio.server")


@dataclass
class Studio:
    """What the app serves from: the folders, the loaded models, the text batcher, and the optional token."""

    checkpoints: Path
    samples: Path
    token: Optional[str] = None
    device: str = "cpu"
    request_seconds: float = REQUEST_SECONDS  # each generation request's time limit, its wait included
    catalog: RunCatalog = field(init=False)
    models: ModelCache = field(init=False)
    batcher: TextBatcher = field(init=False)
    # MIDI and tagging requests run in threads; at most this many at once, so memory stays bounded.
    heavy: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(2))

    def __post_init__(self) -> None:
        self.catalog = RunCatalog(self.checkpoints)
        self.models = ModelCache(self.device)
        self.batcher = TextBatcher()

    def generator(self, run: str, role: str, method: str) -> tuple[Generator, Path]:
        """The loaded checkpoint `run`/`role`, whose task must offer `method` (text, midi, tag or classify)."""
        path = checkpoint_path(self.checkpoints, run, role)
        generator = self.models.get(path)
        if generator.task.method != method:
            offering = "/".join(t.name for t in tasks_with("method", method))
            raise StudioError(f"run {run!r} is a {generator.task.name} run: choose a {offering} run for this panel")
        return generator, path

    def settings(self, path: Path) -> dict[str, Any]:
        """What settings.json records beside the request, as the command line writes it, and where it came from."""
        return {"ckpt": str(path), "out_dir": str(self.samples), "device": self.device, "source": "serve"}


def create_app(
    checkpoints: Path | str,
    samples: Path | str,
    token: Optional[str] = None,
    device: str = "cpu",
    request_seconds: float = REQUEST_SECONDS,
) -> FastAPI:
    """The web studio over `checkpoints` (runs) writing to `samples`; with `token`, every request must carry it;
    a generation request may take `request_seconds`."""
    studio = Studio(Path(checkpoints), Path(samples), token, device, request_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studio.batcher.close()

    app = FastAPI(title="Studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.studio = studio
    _add_guards(app, studio)
    _add_api(app, studio)
    _add_generation(app, studio)
    add_live_routes(app, studio)
    return app


def _add_guards(app: FastAPI, studio: Studio) -> None:
    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Response:
        if studio.token:
            header = request.headers.get("authorization", "")
            given = header[7:] if header.lower().startswith("bearer ") else request.query_params.get("token", "")
            if not hmac.compare_digest(given.encode(), studio.token.encode()):
                return JSONResponse(
                    {"detail": "this studio needs its token: open the URL `studio serve` printed (…/?token=…)"},
                    status_code=401,
                )
        return await call_next(request)

    @app.exception_handler(StudioError)
    async def studio_error(request: Request, error: StudioError) -> JSONResponse:
        status = 404 if isinstance(error, NotFound) else 413 if isinstance(error, UploadTooLarge) else 400
        if isinstance(error, SettingTypeError):
            status = 422
        if isinstance(error, TooLong):
            status = 503
        return JSONResponse({"detail": _line(error)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        parts = []
        for problem in error.errors()[:3]:
            where = ".".join(str(p) for p in problem.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where}: {problem.get('msg', 'invalid')}")
        return JSONResponse({"detail": "; ".join(parts) or "the request is malformed"}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("request %s failed", request.url.path)
        return JSONResponse({"detail": f"the server failed: {_line(error)}"}, status_code=500)


def _add_api(app: FastAPI, studio: Studio) -> None:
    @app.get("/")
    async def page() -> HTMLResponse:
        html = (STATIC / "index.html").read_text(encoding="utf-8")
        if studio.token:  # the page's own files are fetched by the browser, which can only carry the token in the URL
            html = re.sub(r'((?:href|src)="static/[^"?]+)"', rf'\1?token={quote(studio.token)}"', html)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/tasks")
    async def tasks() -> dict[str, Any]:
        return {"tasks": {name: task.as_dict() for name, task in TASKS.items()}}

    @app.get("/api/runs")
    async def runs() -> dict[str, Any]:
        return {"runs": await run_in_threadpool(studio.catalog.runs)}

    @app.get("/api/runs/{run}/metrics")
    async def metrics(run: str) -> dict[str, Any]:
        if is_bundle(studio.checkpoints, run):  # a bundled model has no training to draw
            return {"training": False, "series": {}}
        folder = run_folder(studio.checkpoints, run)
        return {"training": training_now(folder), "series": await run_in_threadpool(read_metrics, folder)}

    @app.get("/api/runs/{run}/history")
    async def generations(run: str) -> dict[str, Any]:
        if not is_bundle(studio.checkpoints, run):
            run_folder(studio.checkpoints, run)  # a name that is not a run is refused here too
        return {"generations": await run_in_threadpool(history, studio.samples, run)}

    @app.get("/files/{run}/{folder}/{name}")
    async def saved_file(run: str, folder: str, name: str) -> FileResponse:
        return FileResponse(sample_file(studio.samples, run, folder, name))


def _add_generation(app: FastAPI, studio: Studio) -> None:
    """One route per API method of the tasks (`/api/text`, `/api/midi`, `/api/tag`, `/api/classify`)."""
    for method in sorted({task.method for task in TASKS.values()}):
        app.post(f"/api/{method}", name=method)(_generation_route(studio, method))


def _generation_route(studio: Studio, method: str) -> Any:
    async def generate(request: Request) -> Response:
        deadline = Deadline(studio.request_seconds)
        body = await read_body(request)
        generator, path = await run_in_threadpool(studio.generator, body.run, body.checkpoint, method)
        task = generator.task
        settings = web_request(task, body)
        if task.streams:
            return await _stream_text(studio, body.run, generator, path, settings, deadline)
        upload = await read_capped(body.upload, _upload_kind(generator)) if body.upload is not None else None
        done = await run_in_threadpool(_generate, studio, body, generator, path, settings, upload, deadline)
        return JSONResponse(done)

    return generate


def path_setting(request: type) -> Optional[str]:
    """The setting of a request type that names a file (the one an upload fills); StudioError when it has none."""
    found = [option.name for option in options(request) if option.declared.path]
    if not found:
        raise StudioError("this task takes no file with its settings: send the settings alone")
    return found[0]


def _upload_kind(generator: Generator) -> UploadKind:
    """What a file sent with a request to this checkpoint must be."""
    kind = generator.input_kind
    return {"none": MIDI_UPLOAD, "audio": AUDIO_UPLOAD}.get(kind, TEXT_UPLOAD)


def _generate(
    studio: Studio,
    body: Body,
    generator: Generator,
    path: Path,
    request: Any,
    upload: Optional[bytes],
    deadline: Deadline,
) -> dict[str, Any]:
    """A request that is not streamed: its inputs read, the task run in this worker thread, the results saved.

    It waits for one of the `heavy` workers no longer than its time limit, and stops at the generation's next
    progress report once the limit has passed (TooLong: a 503)."""
    task, kind = generator.task, generator.input_kind
    name = Path(body.upload.filename or "upload").name if body.upload is not None else None
    if not studio.heavy.acquire(timeout=deadline.left()):
        raise TooLong(deadline.busy())
    with contextlib.ExitStack() as stack:
        stack.callback(studio.heavy.release)
        extra: dict[str, Any] = {}
        inputs: list[Any] = []
        file_setting = path_setting(task.request) if kind == "none" and upload is not None else None
        if file_setting is not None:  # a file that fills the request's path setting (a MIDI primer)
            upload_path = stack.enter_context(temporary_file(upload, MIDI_UPLOAD))  # type: ignore[arg-type]
            request = dataclasses.replace(request, **{file_setting: str(upload_path)})
        elif kind == "audio":
            if upload is None:
                raise StudioError("send an audio file (WAV, FLAC or Ogg) to tag or classify")
            with temporary_file(upload, AUDIO_UPLOAD) as clip:
                samples, sr = read_audio(str(clip))
            inputs = [AudioClip(name or "upload.wav", samples, sr)]
            extra = {"waveform": waveform(samples), "sample_rate": sr}
        elif kind != "none":
            inputs = web_texts(kind, body.text, upload, name)
        results = generator.run(request, inputs, deadline.check)
        with SampleFolder(studio.samples, path, getattr(request, "seed", 0)) as folder:
            saved = dict(studio.settings(path), interrupted=False, inputs=[name] if name else [])
            if file_setting is not None:  # settings.json names the file as it was sent
                request = dataclasses.replace(request, **{file_setting: name})
            save_results(folder, task, results, request, **saved)
        assert folder.path is not None
        return generation_record(studio.samples, body.run, folder.path, extra)


async def _stream_text(
    studio: Studio, run: str, generator: Generator, path: Path, request: Any, deadline: Deadline
) -> StreamingResponse:
    """A text request joins the batcher; its samples stream back as they are drawn, then the saved record.

    A request the batcher has not begun within its time limit is answered 503; one that runs past it leaves
    the batch, keeps what it had (saved), and its stream ends with an error line saying why."""
    codec = generator.loaded.codec
    prompt, rows = text_rows(codec, request.prompt, request.length, request.num_samples, request.sampling, request.seed)
    check_request(request.length, request.num_samples, rows[0].prompt, request.seed)
    loop, events = asyncio.get_running_loop(), asyncio.Queue[tuple[Any, ...]]()

    def finish(texts: list[str], interrupted: bool) -> dict[str, Any]:
        with SampleFolder(studio.samples, path, request.seed) as folder:
            save_results(folder, generator.task, texts, request, **studio.settings(path), interrupted=interrupted)
        assert folder.path is not None
        return generation_record(studio.samples, run, folder.path)

    def listen(event: tuple[Any, ...]) -> None:
        loop.call_soon_threadsafe(events.put_nowait, event)

    job = TextJob(generator, prompt, rows, listen, finish, deadline=deadline.end, time_limit=deadline.ran_past())
    studio.batcher.submit(job)
    try:
        first = await asyncio.wait_for(events.get(), deadline.left())
    except asyncio.TimeoutError:
        job.cancelled.set()  # the batcher passes it over
        raise TooLong(deadline.busy()) from None

    async def stream() -> AsyncIterator[bytes]:
        try:
            event = first
            while True:
                if event[0] == "chunk":
                    yield _line_json({"event": "chunk", "sample": event[1], "text": event[2]})
                elif event[0] == "done":
                    yield _line_json({"event": "done", "generation": event[1]})
                    return
                else:
                    yield _line_json({"event": "error", "message": event[1]})
                    return
                event = await events.get()
        finally:
            job.cancelled.set()  # the client left (or pressed Stop): the row leaves the batch and is saved

    return StreamingResponse(stream(), media_type="application/x-ndjson")


def _line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _line_json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record) + "\n").encode("utf-8")
