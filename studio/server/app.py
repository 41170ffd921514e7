"""The web studio: a FastAPI app serving one page and a JSON API over the runs in a checkpoints folder.

Generation goes through `studio.generation` (never the command line): text through the batcher, which
joins concurrent requests into one batch; MIDI and tagging in worker threads. Everything generated is
saved under `samples/<run>/` as `studio sample` and `studio tag` save it. Every bad request is a 4xx
with a one-line `detail`; no traceback ever reaches a response.
"""

from __future__ import annotations

import asyncio
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

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from studio.codecs.midi.controls import parse_pitch_weights
from studio.codecs.speech import read_audio
from studio.errors import StudioError
from studio.generation import BeamSettings, Generator
from studio.generation.decoding import check_request
from studio.generation.outputs import SampleFolder
from studio.generation.sampling import SamplingSettings
from studio.generation.saving import save_pieces, save_tags, save_texts
from studio.generation.text import DEFAULT_LENGTH, text_rows
from studio.server.history import generation_record, history, sample_file, waveform
from studio.server.limits import check_midi_limits, check_tag_limits, check_text_limits
from studio.server.model_cache import ModelCache
from studio.server.runs import NotFound, RunCatalog, checkpoint_path, read_metrics, run_folder, training_now
from studio.server.text_batcher import TextBatcher, TextJob
from studio.server.uploads import AUDIO_UPLOAD, MIDI_UPLOAD, UploadTooLarge, read_capped, temporary_file

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("studio.server")


class TextRequest(BaseModel):
    """The text panel's settings (the same names and defaults as `studio sample`)."""

    run: str
    checkpoint: str = "last"
    prompt: Optional[str] = None
    length: int = DEFAULT_LENGTH
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    num_samples: int = 1


@dataclass
class Studio:
    """What the app serves from: the folders, the loaded models, the text batcher, and the optional token."""

    checkpoints: Path
    samples: Path
    token: Optional[str] = None
    device: str = "cpu"
    catalog: RunCatalog = field(init=False)
    models: ModelCache = field(init=False)
    batcher: TextBatcher = field(init=False)
    # MIDI and tagging requests run in threads; at most this many at once, so memory stays bounded.
    heavy: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(2))

    def __post_init__(self) -> None:
        self.catalog = RunCatalog(self.checkpoints)
        self.models = ModelCache(self.device)
        self.batcher = TextBatcher()

    def generator(self, run: str, role: str, kind: str) -> tuple[Generator, Path]:
        """The loaded checkpoint `run`/`role`, which must make `kind` ("text", "midi" or "speech")."""
        path = checkpoint_path(self.checkpoints, run, role)
        generator = self.models.get(path)
        if generator.kind != kind:
            raise StudioError(f"run {run!r} is a {generator.kind} run: choose a {kind} run for this panel")
        return generator, path

    def settings(self, path: Path, **values: Any) -> dict[str, Any]:
        """settings.json as `studio sample` / `studio tag` write it, plus where it came from."""
        return {"ckpt": str(path), **values, "out_dir": str(self.samples), "device": self.device, "source": "serve"}


def create_app(
    checkpoints: Path | str, samples: Path | str, token: Optional[str] = None, device: str = "cpu"
) -> FastAPI:
    """The web studio over `checkpoints` (runs) writing to `samples`; with `token`, every request must carry it."""
    studio = Studio(Path(checkpoints), Path(samples), token, device)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studio.batcher.close()

    app = FastAPI(title="Studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.studio = studio
    _add_guards(app, studio)
    _add_api(app, studio)
    _add_generation(app, studio)
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

    @app.get("/api/runs")
    async def runs() -> dict[str, Any]:
        return {"runs": await run_in_threadpool(studio.catalog.runs)}

    @app.get("/api/runs/{run}/metrics")
    async def metrics(run: str) -> dict[str, Any]:
        folder = run_folder(studio.checkpoints, run)
        return {"training": training_now(folder), "series": await run_in_threadpool(read_metrics, folder)}

    @app.get("/api/runs/{run}/history")
    async def generations(run: str) -> dict[str, Any]:
        run_folder(studio.checkpoints, run)  # a name that is not a run is refused here too
        return {"generations": await run_in_threadpool(history, studio.samples, run)}

    @app.get("/files/{run}/{folder}/{name}")
    async def saved_file(run: str, folder: str, name: str) -> FileResponse:
        return FileResponse(sample_file(studio.samples, run, folder, name))


def _add_generation(app: FastAPI, studio: Studio) -> None:
    @app.post("/api/text")
    async def text(body: TextRequest) -> StreamingResponse:
        check_text_limits(body.length, body.num_samples)
        generator, path = await run_in_threadpool(studio.generator, body.run, body.checkpoint, "text")
        settings = SamplingSettings(body.temperature, body.top_k, body.top_p)
        codec = generator.loaded.codec
        prompt, rows = text_rows(codec, body.prompt, body.length, body.num_samples, settings, body.seed)
        check_request(body.length, body.num_samples, rows[0].prompt, body.seed)
        loop, events = asyncio.get_running_loop(), asyncio.Queue[tuple[Any, ...]]()

        def finish(texts: list[str], interrupted: bool) -> dict[str, Any]:
            with SampleFolder(studio.samples, path, body.seed) as folder:
                save_texts(folder, texts)
                values = body.model_dump(exclude={"run", "checkpoint"})
                folder.write_settings(studio.settings(path, **values, interrupted=interrupted))
            assert folder.path is not None
            return generation_record(studio.samples, body.run, folder.path)

        def listen(event: tuple[Any, ...]) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        job = TextJob(generator, prompt, rows, listen, finish)
        studio.batcher.submit(job)

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    event = await events.get()
                    if event[0] == "chunk":
                        yield _line_json({"event": "chunk", "sample": event[1], "text": event[2]})
                    elif event[0] == "done":
                        yield _line_json({"event": "done", "generation": event[1]})
                        return
                    else:
                        yield _line_json({"event": "error", "message": event[1]})
                        return
            finally:
                job.cancelled.set()  # the client left (or pressed Stop): the row leaves the batch and is saved

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    @app.post("/api/midi")
    async def midi(
        run: str = Form(...),
        checkpoint: str = Form("last"),
        seconds: float = Form(30.0),
        temperature: float = Form(1.0),
        top_k: int = Form(0),
        top_p: float = Form(1.0),
        seed: int = Form(0),
        num_samples: int = Form(1),
        beam_size: int = Form(1),
        branch_factor: int = Form(1),
        steps_per_iteration: int = Form(1),
        notes_per_second: Optional[float] = Form(None),
        pitch_class_histogram: Optional[str] = Form(None),
        primer: Optional[UploadFile] = File(None),
    ) -> dict[str, Any]:
        check_midi_limits(seconds, num_samples, beam_size, branch_factor)
        weights = parse_pitch_weights(pitch_class_histogram) if pitch_class_histogram else None
        beam = BeamSettings(beam_size, branch_factor, steps_per_iteration)
        primer_bytes = await read_capped(primer, MIDI_UPLOAD) if primer is not None and primer.filename else None
        values = dict(
            seconds=seconds,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            num_samples=num_samples,
            beam_size=beam_size,
            branch_factor=branch_factor,
            steps_per_iteration=steps_per_iteration,
            notes_per_second=notes_per_second,
            pitch_class_histogram=weights,
            primer=primer.filename if primer is not None and primer_bytes else None,
        )

        def work() -> dict[str, Any]:
            with studio.heavy:
                generator, path = studio.generator(run, checkpoint, "midi")
                if primer_bytes is None:
                    pieces = _midi(generator, values, None, weights, beam)
                else:
                    with temporary_file(primer_bytes, MIDI_UPLOAD) as primer_path:
                        pieces = _midi(generator, values, primer_path, weights, beam)
                with SampleFolder(studio.samples, path, seed) as folder:
                    save_pieces(folder, pieces, render=True)
                    folder.write_settings(studio.settings(path, **values, interrupted=False))
                assert folder.path is not None
                return generation_record(studio.samples, run, folder.path)

        return await run_in_threadpool(work)

    @app.post("/api/tag")
    async def tag(
        run: str = Form(...),
        checkpoint: str = Form("last"),
        beam_width: int = Form(1),
        audio: UploadFile = File(...),
    ) -> dict[str, Any]:
        check_tag_limits(beam_width)
        data = await read_capped(audio, AUDIO_UPLOAD)
        name = Path(audio.filename or "upload.wav").name

        def work() -> dict[str, Any]:
            with studio.heavy:
                generator, path = studio.generator(run, checkpoint, "speech")
                with temporary_file(data, AUDIO_UPLOAD) as clip:
                    samples, sr = read_audio(str(clip))
                spans = generator.tag(samples, sr, beam_width)
                stem = Path(name).stem or "upload"
                with SampleFolder(studio.samples, path, 0) as folder:
                    save_tags(folder, stem, name, sr, len(samples), generator, beam_width, spans)
                    folder.write_settings(studio.settings(path, files=[name], beam_width=beam_width))
                assert folder.path is not None
                extra = {"waveform": waveform(samples), "sample_rate": sr}
                return generation_record(studio.samples, run, folder.path, extra)

        return await run_in_threadpool(work)


def _midi(
    generator: Generator, values: dict[str, Any], primer: Optional[Path], weights: Any, beam: BeamSettings
) -> list[Any]:
    """The MIDI request through the one generation API."""
    return generator.midi(
        seconds=values["seconds"],
        num_samples=values["num_samples"],
        temperature=values["temperature"],
        top_k=values["top_k"],
        top_p=values["top_p"],
        seed=values["seed"],
        primer=primer,
        notes_per_second=values["notes_per_second"],
        pitch_class_histogram=weights,
        beam=beam,
    )


def _line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


def _line_json(record: dict[str, Any]) -> bytes:
    return (json.dumps(record) + "\n").encode("utf-8")
