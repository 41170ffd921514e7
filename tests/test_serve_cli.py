"""`studio serve` as a user runs it: the real command on 127.0.0.1, over tiny real runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tiny_runs import trained

from studio.cli.serve import loopback


def test_only_loopback_addresses_count_as_this_machine() -> None:
    assert loopback("127.0.0.1") and loopback("localhost") and loopback("::1")
    assert not loopback("0.0.0.0") and not loopback("192.168.1.5") and not loopback("example.org")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_a_long_generation_blocks_nothing_and_a_closed_stream_keeps_its_text(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shutil.copytree(trained("text", tmp_path_factory)["ckpt"].parent, tmp_path / "checkpoints" / "text")
    port = _free_port()
    studio = str(Path(sys.executable).with_name("studio"))
    server = subprocess.Popen(
        [studio, "serve", "--port", str(port), "--token", "t0k"],
        cwd=tmp_path,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        first_line = server.stderr.readline()
        assert f"http://127.0.0.1:{port}/?token=t0k" in first_line, first_line
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer t0k"}, timeout=30)
        for _ in range(100):
            try:
                client.get("/api/runs")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with client.stream(
            "POST", "/api/text", json={"run": "text", "length": 10000, "num_samples": 16, "seed": 4}
        ) as stream:
            lines = stream.iter_lines()
            assert json.loads(next(lines))["event"] == "chunk"
            started = time.monotonic()
            assert client.get("/api/runs").json()["runs"][0]["name"] == "text"  # answered mid-generation
            assert time.monotonic() - started < 10
            next(lines)
        # The stream was closed early (as the page's Stop does): the text so far is saved, marked interrupted.
        for _ in range(100):
            generations = client.get("/api/runs/text/history").json()["generations"]
            if generations:
                break
            time.sleep(0.2)
        assert generations[0]["interrupted"] is True
        assert 0 < len(generations[0]["texts"][0]) < 10000
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_listening_beyond_this_machine_warns_and_a_random_token_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """(uvicorn.run is replaced so nothing listens beyond 127.0.0.1 in a test; the app it would serve is checked.)"""
    import uvicorn

    from studio.cli.serve import serve_main

    served: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **_: served.update(app=app, host=host, port=port))
    monkeypatch.chdir(tmp_path)
    serve_main(["--host", "0.0.0.0", "--port", "8123"])
    err = capsys.readouterr().err
    assert "warning: listening on 0.0.0.0" in err and "pass --token" in err
    assert served["host"] == "0.0.0.0" and served["port"] == 8123 and served["app"].state.studio.token is None
    serve_main(["--host", "0.0.0.0", "--token", "random"])
    err = capsys.readouterr().err
    token = served["app"].state.studio.token
    assert token and len(token) >= 16 and f"?token={token}" in err and "pass --token" not in err
    monkeypatch.setenv("STUDIO_TOKEN", "from-env")
    from studio.cli.serve import build_parser

    assert build_parser().parse_args([]).token == "from-env"
