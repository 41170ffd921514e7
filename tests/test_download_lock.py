"""Two processes asking for the same remote file at once: one download, the other waits and reuses it."""

from __future__ import annotations

import hashlib
import http.server
import io
import multiprocessing
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamodules.remote_files import fetch_once, unpack_once
from studio.downloads import Remote, extract_tar, fetch

DATA = b"".join(f"line {i} of a corpus that takes a moment to serve\n".encode() for i in range(20000))
SLOW = 1.0  # seconds the server waits before answering, so that both processes ask while the first downloads


@pytest.fixture()
def slow_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve tmp_path/www on 127.0.0.1, answering each request after SLOW seconds; yields (base URL, request log)."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "corpus.txt").write_bytes(DATA)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def do_GET(self) -> None:
            requests.append(self.path)
            time.sleep(SLOW)
            super().do_GET()

        def log_message(self, format: str, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def fetch_at(remote: Remote, target: str, start: float) -> str:
    """In a fresh process: wait until `start` (so both ask at once), fetch, return the SHA-256 of what it holds."""
    time.sleep(max(0.0, start - time.time()))
    return hashlib.sha256(fetch_once(remote, Path(target), hint="--data.init_args.path").read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_processes_fetching_one_remote_download_it_once(slow_server, tmp_path: Path) -> None:
    base, requests = slow_server
    remote = Remote(f"{base}/corpus.txt", size=len(DATA), sha256=hashlib.sha256(DATA).hexdigest())
    target = tmp_path / "cache" / "corpus.txt"
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        pool.map(time.sleep, [0.0, 0.0])  # both workers started (spawn imports take seconds) before the clock runs
        start = time.time() + 0.5
        digests = pool.starmap(fetch_at, [(remote, str(target), start)] * 2, chunksize=1)
    assert digests == [remote.sha256, remote.sha256]
    assert requests == ["/corpus.txt"]  # the second process waited for the first and reused its copy
    assert target.read_bytes() == DATA
    assert not [p for p in target.parent.iterdir() if p.name.endswith((".tmp", ".owner"))]


def test_unpack_once_unpacks_only_when_missing(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        member = tarfile.TarInfo("root/x.txt")
        member.size = 3
        tar.addfile(member, io.BytesIO(b"abc"))
    calls: list[Path] = []

    def counted(source: Path, folder: Path) -> Path:
        calls.append(folder)
        return extract_tar(source, folder)

    folder = tmp_path / "out"
    assert unpack_once(archive, folder, counted) == folder
    assert unpack_once(archive, folder, counted) == folder
    assert (folder / "root" / "x.txt").read_bytes() == b"abc" and calls == [folder]


def test_a_finished_copy_is_reused_without_taking_the_lock(slow_server, tmp_path: Path) -> None:
    base, requests = slow_server
    remote = Remote(f"{base}/corpus.txt", size=len(DATA))
    target = tmp_path / "cache" / "corpus.txt"
    fetch(remote, target)  # the copy another process finished, or a read-only shared cache holds
    assert fetch_once(remote, target, hint="--data.init_args.path") == target
    assert requests == ["/corpus.txt"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["corpus.txt", "corpus.txt.sha256"]  # no lock file
