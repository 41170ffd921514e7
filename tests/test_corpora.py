"""Corpus loading: files, folders, embedded corpora, opt-in downloads, and clear errors."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from datamodules.corpora import EMBEDDED, RemoteCorpus, download, load_named_corpus, read_corpus_path
from studio.errors import StudioError


def test_embedded_corpora_work_offline() -> None:
    text = EMBEDDED["lady_susan"]()
    assert "LADY SUSAN" in text and len(text) > 100_000
    assert len(load_named_corpus("english")) > 500_000


def test_folder_reads_every_text_file_in_order(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "b" / "c.md").write_text("second")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    assert read_corpus_path(str(tmp_path)) == "first\n\nsecond"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.txt", "does not exist"),
        (
            lambda p: (p / "bad.txt").write_bytes(b"ok \xff\xfe bytes") and p / "bad.txt",
            r"not valid utf-8 \(byte 3\).*encoding latin-1",
        ),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no text files"),
    ],
)
def test_bad_paths_give_one_line_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(StudioError, match=message) as error:
        read_corpus_path(str(make(tmp_path)))
    assert "\n" not in str(error.value)


def test_latin1_files_load_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("café".encode("latin-1"))
    assert read_corpus_path(str(path), "latin-1") == "café"


def test_unknown_corpus_name_lists_the_choices() -> None:
    with pytest.raises(StudioError, match="lady_susan.*tiny_shakespeare"):
        load_named_corpus("war_and_peace")


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, bytes, list[str]]]:
    """A loopback HTTP server serving one corpus file; yields (url, bytes, request log)."""
    data = ("To be, or not to be, that is the question.\n" * 50).encode()
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "input.txt").write_bytes(data)
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "www"), **kwargs)

        def log_message(self, format: str, *args) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/input.txt", data, requests
    server.shutdown()


def test_download_verifies_and_caches(served, tmp_path: Path) -> None:
    url, data, requests = served
    remote = RemoteCorpus(url, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    target = tmp_path / "cache" / "play.txt"
    assert download(remote, target).read_bytes() == data
    assert download(remote, target).read_bytes() == data
    assert len(requests) == 1  # the second call used the verified cache
    target.write_bytes(b"tampered")
    assert download(remote, target).read_bytes() == data  # a damaged cache is fetched again
    assert len(requests) == 2


def test_download_rejects_a_wrong_checksum_and_keeps_nothing(served, tmp_path: Path) -> None:
    url, data, _ = served
    target = tmp_path / "cache" / "play.txt"
    with pytest.raises(StudioError, match="SHA-256"):
        download(RemoteCorpus(url, sha256="0" * 64), target)
    with pytest.raises(StudioError, match=f"has {len(data)} bytes, expected 7"):
        download(RemoteCorpus(url, size=7), target)
    assert not target.exists()


def test_download_from_a_file_url(tmp_path: Path) -> None:
    source = tmp_path / "local.txt"
    source.write_text("file url corpus")
    target = download(RemoteCorpus(source.as_uri()), tmp_path / "cache" / "x.txt")
    assert target.read_text() == "file url corpus"


def test_unreachable_download_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="could not download"):
        download(RemoteCorpus("http://127.0.0.1:9/none.txt"), tmp_path / "x.txt")
