"""Verified downloads from a loopback server (cache, digests, size caps, clear errors) and safe unpacking (tar, zip)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import re
import socket
import stat
import tarfile
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from local_server import serving

from studio import downloads
from studio.downloads import Remote, extract_tar, extract_zip, fetch, gunzip
from studio.errors import StudioError

DATA = ("Confidence in the pound is widely expected to take another sharp dive.\n" * 200).encode()
ENDLESS = 64 * 1024**2  # what /stream serves at most: far more than any socket buffer holds


@dataclass
class Server:
    """The loopback server's address and what it saw."""

    base: str
    requests: list[str] = field(default_factory=list)
    streamed: list[int] = field(default_factory=list)  # bytes /stream wrote before the client hung up
    stream_done: threading.Event = field(default_factory=threading.Event)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    """Serve tmp_path/www (holding data.txt) on 127.0.0.1; /stream?n=N sends N bytes with no Content-Length."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "data.txt").write_bytes(DATA)
    seen = Server("")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, format: str, *args) -> None:
            seen.requests.append(self.path)

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/stream":
                return super().do_GET()
            total = int(urllib.parse.parse_qs(url.query).get("n", [str(ENDLESS)])[0])
            self.send_response(200)
            self.end_headers()  # no Content-Length: only the client's own cap can stop it
            written = 0
            try:
                while written < total:
                    block = b"x" * min(64 * 1024, total - written)
                    self.wfile.write(block)
                    written += len(block)
            except OSError:  # the client hung up
                pass
            finally:
                seen.streamed.append(written)
                seen.stream_done.set()

    with serving(Handler) as base:
        seen.base = base
        yield seen


def one_line_error(remote: Remote, target: Path, **kwargs) -> str:
    """The message of the StudioError `fetch` raises, checked to be one line naming the URL."""
    with pytest.raises(StudioError) as error:
        fetch(remote, target, **kwargs)
    message = str(error.value)
    assert "\n" not in message and remote.url in message
    return message


def test_a_good_download_is_cached_and_not_fetched_again(server: Server, tmp_path: Path) -> None:
    remote = Remote(
        f"{server.base}/data.txt", len(DATA), hashlib.sha256(DATA).hexdigest(), hashlib.md5(DATA).hexdigest()
    )
    target = tmp_path / "cache" / "data.txt"
    assert fetch(remote, target).read_bytes() == DATA
    assert fetch(remote, target) == target
    assert len(server.requests) == 1
    assert (tmp_path / "cache" / "data.txt.sha256").read_text().split() == [remote.sha256, str(len(DATA))]
    assert sorted(p.name for p in target.parent.iterdir()) == ["data.txt", "data.txt.sha256"]  # no temporary left
    # Same size, other bytes: trusted by default (no re-hash), caught and fetched again with verify=True.
    target.write_bytes(DATA.replace(b"pound", b"POUND"))
    assert fetch(remote, target).read_bytes() != DATA
    assert fetch(remote, target, verify=True).read_bytes() == DATA
    assert len(server.requests) == 2


def test_a_record_without_a_size_is_rehashed_once_and_upgraded(server: Server, tmp_path: Path) -> None:
    remote = Remote(f"{server.base}/data.txt")
    target = tmp_path / "data.txt"
    target.write_bytes(DATA)
    record = tmp_path / "data.txt.sha256"
    record.write_text(hashlib.sha256(DATA).hexdigest())  # the older record: the digest alone
    assert fetch(remote, target).read_bytes() == DATA
    assert record.read_text().split() == [hashlib.sha256(DATA).hexdigest(), str(len(DATA))]
    assert server.requests == []


@pytest.mark.parametrize(
    "path, changes, message",
    [
        ("/data.txt", {"sha256": "0" * 64}, "failed its SHA-256 check"),
        ("/data.txt", {"md5": "0" * 32}, "failed its MD5 check"),
        ("/data.txt", {"size": len(DATA) + 5}, f"has {len(DATA)} bytes, expected {len(DATA) + 5}"),  # announced
        ("/stream?n=1000", {"size": 1200}, "has 1000 bytes, expected 1200"),  # found at the end of the stream
    ],
)
def test_a_bad_download_leaves_nothing_behind(server: Server, tmp_path: Path, path, changes, message) -> None:
    target = tmp_path / "cache" / "data.txt"
    target.parent.mkdir()
    target.write_bytes(b"an older copy")
    (tmp_path / "cache" / "data.txt.sha256").write_text("stale record")
    assert re.search(message, one_line_error(Remote(f"{server.base}{path}", **changes), target))
    assert list(target.parent.iterdir()) == []


@pytest.mark.parametrize(
    "limits, message",
    [({"size": 100_000}, "expected 100000"), ({"max_bytes": 100_000}, "over the cap max_bytes=100000")],
)
def test_a_response_longer_than_allowed_is_cut_off_early(server: Server, tmp_path: Path, limits, message) -> None:
    target = tmp_path / "big.bin"
    assert re.search(message, one_line_error(Remote(f"{server.base}/stream", **limits), target))
    assert server.stream_done.wait(30)
    assert server.streamed[0] < ENDLESS  # the client stopped reading; the server never finished
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def test_an_unreachable_url_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    remote = Remote(f"http://127.0.0.1:{port}/corpus.tar.gz")
    message = one_line_error(remote, tmp_path / "x", hint="--data.init_args.treebank")
    assert message.startswith(f"could not download {remote.url} (")
    assert "check the network" in message and message.endswith("--data.init_args.treebank")
    assert not (tmp_path / "x").exists()


def test_http_errors_and_bad_urls_are_one_line_errors(server: Server, tmp_path: Path) -> None:
    assert "HTTP 404" in one_line_error(Remote(f"{server.base}/missing.txt"), tmp_path / "x")
    assert "could not download" in one_line_error(Remote("nonsense://x"), tmp_path / "x")


def test_file_urls_work(tmp_path: Path) -> None:
    source = tmp_path / "local.txt"
    source.write_bytes(DATA)
    remote = Remote(source.as_uri(), size=len(DATA))
    assert fetch(remote, tmp_path / "cache" / "copy.txt").read_bytes() == DATA
    assert "could not download" in one_line_error(Remote((tmp_path / "none").as_uri()), tmp_path / "y")


def test_progress_lines_only_for_long_downloads(server: Server, tmp_path: Path, monkeypatch, capsys) -> None:
    fetch(Remote(f"{server.base}/data.txt"), tmp_path / "a.txt")
    assert capsys.readouterr().err == ""  # a quick download is silent
    monkeypatch.setattr(downloads, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(downloads, "PROGRESS_EVERY", 0.0)
    monkeypatch.setattr(downloads, "CHUNK", 1024)
    fetch(Remote(f"{server.base}/data.txt"), tmp_path / "b.txt")
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(re.search(r"^downloading .*data\.txt: [\d.]+ / [\d.]+ MB \([\d.,]+ MB/s\)$", x) for x in lines)


def make_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A .tar.gz of regular files (name -> bytes) and symbolic links (name -> target)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_extract_tar_publishes_the_folder_once(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "ud.tar.gz", {"ud/train.conllu": b"1\tHi\n", "ud/README": b"read me"})
    folder = extract_tar(archive, tmp_path / "out")
    assert (folder / "ud" / "train.conllu").read_bytes() == b"1\tHi\n"
    archive.unlink()
    assert extract_tar(archive, tmp_path / "out") == folder  # present: returned without the archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    "members, links, why",
    [
        ({"ok.txt": b"ok", "../evil": b"owned"}, None, "'..' path"),
        ({"/tmp/evil": b"owned"}, None, "absolute path"),
        ({"ok.txt": b"ok"}, {"data/evil": "../../evil"}, "outside the folder"),
    ],
)
def test_extract_tar_refuses_unsafe_members(tmp_path: Path, members, links, why) -> None:
    (tmp_path / "in").mkdir()
    archive = make_tar(tmp_path / "in" / "bad.tar.gz", members, links)
    with pytest.raises(StudioError, match=why) as error:
        extract_tar(archive, tmp_path / "in" / "out")
    assert "\n" not in str(error.value) and str(archive) in str(error.value)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.tar.gz", "in"]  # nothing written, in or out


def test_extract_tar_and_gunzip_refuse_broken_archives(tmp_path: Path) -> None:
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    for unpack, target in ((extract_tar, tmp_path / "folder"), (gunzip, tmp_path / "file")):
        with pytest.raises(StudioError, match="download it again") as error:
            unpack(tmp_path / "bad.gz", target)
        assert "\n" not in str(error.value) and not target.exists()
    with pytest.raises(StudioError, match="does not exist"):
        gunzip(tmp_path / "missing.gz", tmp_path / "file")


def test_gunzip_round_trip(tmp_path: Path) -> None:
    (tmp_path / "train.txt.gz").write_bytes(gzip.compress(DATA * 20))
    target = gunzip(tmp_path / "train.txt.gz", tmp_path / "plain" / "train.txt")
    assert target.read_bytes() == DATA * 20
    assert sorted(p.name for p in target.parent.iterdir()) == ["train.txt"]


def make_zip(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    """A .zip of regular files (name -> bytes) and symbolic links stored the Unix way (name -> target)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return path


def test_extract_zip_streams_members_and_publishes_the_folder_once(tmp_path: Path, monkeypatch) -> None:
    big = DATA * 50  # several chunks: copied a chunk at a time
    monkeypatch.setattr(downloads, "CHUNK", 4096)
    archive = make_zip(tmp_path / "m.zip", {"m/2004/a.midi": b"MThd", "m/big.txt": big, "m/empty/": b""})
    folder = extract_zip(archive, tmp_path / "out")
    assert (folder / "m" / "2004" / "a.midi").read_bytes() == b"MThd" and (folder / "m" / "big.txt").read_bytes() == big
    assert (folder / "m" / "empty").is_dir()
    archive.unlink()
    assert extract_zip(archive, tmp_path / "out") == folder  # present: returned without the archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(
    "members, links, why",
    [
        ({"ok.txt": b"ok", "m/../../evil": b"owned"}, None, "'..' path"),
        ({"ok.txt": b"ok", "..\\evil": b"owned"}, None, "'..' path"),
        ({"/tmp/evil": b"owned"}, None, "absolute path"),
        ({"C:/evil": b"owned"}, None, "absolute path"),
        ({"ok.txt": b"ok"}, {"data/evil": "../../evil"}, "a link"),
    ],
)
def test_extract_zip_refuses_unsafe_members_before_writing(tmp_path: Path, members, links, why) -> None:
    (tmp_path / "in").mkdir()
    archive = make_zip(tmp_path / "in" / "bad.zip", members, links)
    with pytest.raises(StudioError, match=why) as error:
        extract_zip(archive, tmp_path / "in" / "out")
    assert "\n" not in str(error.value) and str(archive) in str(error.value)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["bad.zip", "in"]  # nothing written, in or out


def test_extract_zip_refuses_a_broken_archive(tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"not a zip at all")
    with pytest.raises(StudioError, match="cannot be extracted .*download it again") as error:
        extract_zip(tmp_path / "bad.zip", tmp_path / "folder")
    assert "\n" not in str(error.value) and not (tmp_path / "folder").exists()
