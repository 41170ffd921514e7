"""A generation request's body, as JSON or as a form with a file, turned into the task's request and inputs.

Every task's request is the one settings type its record declares, built and range-checked the same way as
on the command line; settings that name files on this machine (a MIDI primer) are never taken from a client
(it uploads the file instead); what one shared page may ask for is capped by the task's `web_limits`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from fastapi import Request
from starlette.datastructures import UploadFile

from studio.errors import StudioError
from studio.generation.inputs import TextItem
from studio.generation.requests import build_request, options
from studio.generation.tasks import Task

# A page's request: settings and a short text fit in far less; files come as multipart uploads.
MAX_JSON_BYTES = 1024**2
# A form: one file (at most the largest upload, an audio clip of 50 MB) and its settings.
MAX_FORM_BYTES = 51 * 1024**2
MAX_FORM_FIELDS = 64
# What one text input given on the page may hold (about a book chapter).
MAX_TEXT_CHARS = 200_000
ADDRESS = ("run", "checkpoint")


@dataclass
class Body:
    """The run and checkpoint asked for, the settings as given, a text input and an uploaded file (if any)."""

    run: str
    checkpoint: str
    settings: dict[str, Any]
    text: Optional[str]
    upload: Optional[UploadFile]
    from_form: bool


async def read_body(request: Request) -> Body:
    """The body of a JSON or multipart/form request, size-checked before it is parsed."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    upload = None
    if kind == "application/json" or not kind:
        raw = await _capped(request, MAX_JSON_BYTES)
        try:
            values = json.loads(raw or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise StudioError("the request body is not JSON: send the settings as a JSON object") from None
        if not isinstance(values, dict):
            raise StudioError("the request body must be a JSON object of settings")
        from_form = False
    else:
        capped = Request(request.scope, _capped_receive(request, MAX_FORM_BYTES))
        form = await capped.form(max_files=1, max_fields=MAX_FORM_FIELDS)
        values = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if value.filename:
                    upload = value
            else:
                values[key] = value
        from_form = True
    run = values.pop("run", None)
    if not isinstance(run, str):
        raise StudioError("run: name the run to use (a field of the request)")
    checkpoint = values.pop("checkpoint", "last")
    text = values.pop("text", None)
    if text is not None and not isinstance(text, str):
        raise StudioError("text: give the text to read as a string")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise StudioError(f"text has {len(text):,} characters, over the {MAX_TEXT_CHARS:,} a request may send")
    return Body(run, str(checkpoint), values, text, upload, from_form)


async def _capped(request: Request, limit: int) -> bytes:
    """The raw body, refused once it passes `limit` bytes (before any of it is parsed)."""
    from studio.server.uploads import UploadTooLarge

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"the request body has {int(declared):,} bytes, over the {limit:,} a request may send")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise UploadTooLarge(f"the request body is over the {limit:,} bytes a request may send")
    return bytes(data)


def _capped_receive(request: Request, limit: int) -> Any:
    """The request's `receive`, refusing the body once it passes `limit` bytes (declared or as it arrives)."""
    from studio.server.uploads import UploadTooLarge

    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"the request body has {int(declared):,} bytes, over the {limit:,} a request may send")
    seen = 0

    async def receive() -> Any:
        nonlocal seen
        message = await request.receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise UploadTooLarge(f"the request body is over the {limit:,} bytes a request may send")
        return message

    return receive


def web_request(task: Task, body: Body) -> Any:
    """The task's request from the body's settings: typed, range-checked, within the page's limits."""
    for option in options(task.request):
        if option.declared.path and option.name in body.settings:
            raise StudioError(f"{option.name}: upload the file instead of naming a path on the server")
    request = build_request(task.request, body.settings, from_text=body.from_form)
    for name, cap in task.web_limits.items():
        value = getattr(request, name, None)
        if value is not None and value > cap:
            raise StudioError(f"{_label(request, name)} {value} must be at most {cap:g} per request on this page")
    return request


def web_texts(kind: str, text: Optional[str], upload: Optional[bytes], name: Optional[str]) -> list[TextItem]:
    """The texts a request gives: its `text` field, or an uploaded UTF-8 file; sentences are its non-empty lines."""
    if upload is not None:
        try:
            text = upload.decode("utf-8")
        except UnicodeDecodeError as error:
            raise StudioError(f"{name} is not UTF-8 text (byte {error.start}): convert it, or paste the text") from None
    if text is None or not text.strip():
        raise StudioError("the text is empty: paste some text, or drop a text file")
    where = name or "text"
    if kind == "sentences":
        return [TextItem(f"{where}:{i}", line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    return [TextItem(where, text)]


def _label(request: Any, name: str) -> str:
    """A setting's name; a figure derived from settings also says what it is (its docstring's last clause)."""
    derived = getattr(type(request), name, None)
    if isinstance(derived, property) and derived.__doc__:
        return f"{name} ({derived.__doc__.strip().rstrip('.').split(': ')[-1]})"
    return name
