"""The text token store: prepared once in bounded memory, published atomically, reused, rebuilt when stale."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import datamodules.corpus_reader as corpus_reader
import datamodules.token_store as token_store_module
import studio.codecs.text_encoding as token_encoding
import studio.io as studio_io
from datamodules import TextDataModule
from datamodules.corpora import EMBEDDED
from datamodules.corpus_reader import CorpusSource
from datamodules.progress_line import ProgressLine
from datamodules.streams import StreamBatches
from datamodules.token_store import FORMAT, META, store_key, token_store
from studio.codecs.text import TextCodec
from studio.errors import StudioError

# Line endings of both kinds, blank lines, accents, an emoji and the codec's own special token.
TEXT = "Lady Susan wrote:\n\tMy dear Alicia,\r\n  Ünïcode & emoji 🎻 too.\n\n<unk> stays one token.\n" * 40


@pytest.fixture()
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks and pieces of a few hundred characters, so small corpora cross many block boundaries."""
    monkeypatch.setattr(token_store_module, "BLOCK_BYTES", 300)
    monkeypatch.setattr(token_store_module, "BPE_PIECE", 200)


def _corpus(folder: Path, text: str = TEXT) -> CorpusSource:
    path = folder / "corpus.txt"
    path.write_text(text, encoding="utf-8", newline="")
    return CorpusSource(str(path), (path,))


def _published(cache: Path) -> list[Path]:
    return [p for p in (cache / "text").iterdir() if not p.name.startswith(".")] if (cache / "text").exists() else []


def _leftovers(cache: Path) -> list[Path]:
    return [p for p in (cache / "text").iterdir() if p.name.endswith(".tmp")] if (cache / "text").exists() else []


@pytest.mark.parametrize("level", ["char", "bpe"])
def test_the_store_round_trips_and_matches_the_tokenizer(tmp_path: Path, small_pieces: None, level: str) -> None:
    store = token_store(_corpus(tmp_path), level, 300, tmp_path / "cache")
    whole = TextCodec.train([TEXT], level, 300)  # the codec trained and run on the whole text at once
    assert store.codec.to_dict() == whole.to_dict()
    assert np.asarray(store.ids).tolist() == whole.encode(TEXT)  # the same ids, piece by piece
    assert store.codec.decode(np.asarray(store.ids).tolist()) == TEXT.replace("<unk>", "")
    meta = json.loads((store.folder / META).read_text())
    assert meta["format"] == FORMAT and meta["tokens"] == len(store.ids)
    assert store.ids.dtype == (np.uint8 if level == "char" else np.uint16)
    train, val = store.split(0.1)
    assert len(train) == meta["split"] and len(train) + len(val) == len(store.ids)


def test_bpe_learns_from_a_spread_sample_of_a_large_corpus(
    tmp_path: Path, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(token_encoding, "BPE_SAMPLE", 1000)  # every few pieces, as for a corpus of GBs
    store = token_store(_corpus(tmp_path), "bpe", 300, tmp_path / "cache")
    assert store.codec.decode(np.asarray(store.ids).tolist()) == TEXT.replace("<unk>", "")
    assert store.meta["source"]["characters"] == len(TEXT)


def test_a_folder_of_files_is_one_stream_joined_by_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("first")
    (tmp_path / "corpus" / "b.md").write_text("second")
    data = TextDataModule(path=str(tmp_path / "corpus"), cache_dir=str(tmp_path / "cache"))
    ids = np.concatenate(data.split()).tolist()
    assert data.codec.decode(ids) == "first\n\nsecond"


def test_preparing_twice_reuses_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    first = token_store(source, "char", 512, cache)
    stamp = (first.folder / "ids.bin").stat().st_mtime_ns
    encoded: list[int] = []
    real = token_store_module._write_ids
    monkeypatch.setattr(token_store_module, "_write_ids", lambda *a: encoded.append(1) or real(*a))
    second = token_store(source, "char", 512, cache)
    assert not encoded and second.folder == first.folder
    assert (second.folder / "ids.bin").stat().st_mtime_ns == stamp
    token_store(source, "bpe", 300, cache)  # other settings: a store of their own
    assert len(encoded) == 1 and len(_published(cache)) == 2


def test_an_interrupted_preparation_publishes_nothing_and_the_next_run_builds(
    tmp_path: Path, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    real = token_store_module.encode_pieces

    def interrupted(*args):
        for index, ids in enumerate(real(*args)):
            if index == 3:
                raise KeyboardInterrupt  # Ctrl-C half way through the encoding
            yield ids

    monkeypatch.setattr(token_store_module, "encode_pieces", interrupted)
    with pytest.raises(KeyboardInterrupt):
        token_store(source, "char", 512, cache)
    assert _published(cache) == [] and _leftovers(cache) == []
    # What a SIGKILL leaves (a temporary folder) is never trusted, and is swept by the next preparation.
    key = store_key(corpus_reader.source_digest(source), "char", 512, "utf-8")
    killed = cache / "text" / f".{key}.999999.tmp"
    killed.mkdir()
    (killed / "ids.bin").write_bytes(b"half")
    monkeypatch.setattr(token_store_module, "encode_pieces", real)
    store = token_store(source, "char", 512, cache)
    assert store.codec.decode(np.asarray(store.ids).tolist()) == TEXT.replace("<unk>", "")
    assert [p.name for p in _published(cache)] == [store.folder.name] == [key]
    assert _leftovers(cache) == []


def test_a_store_of_an_older_format_is_rebuilt_with_a_notice(tmp_path: Path) -> None:
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    store = token_store(source, "char", 512, cache)
    meta = json.loads((store.folder / META).read_text())
    (store.folder / META).write_text(json.dumps({**meta, "format": FORMAT - 1}))
    with pytest.warns(UserWarning, match=f"rebuilding the token store .*format {FORMAT - 1}") as notices:
        rebuilt = token_store(source, "char", 512, cache)
    assert len(notices) == 1 and "\n" not in str(notices[0].message)
    assert json.loads((rebuilt.folder / META).read_text())["format"] == FORMAT
    assert np.array_equal(rebuilt.ids, store.ids)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt once: no notice the next time
        token_store(source, "char", 512, cache)


def test_a_damaged_store_is_rebuilt_with_a_notice(tmp_path: Path) -> None:
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    store = token_store(source, "char", 512, cache)
    expected = np.array(store.ids)
    ids = store.folder / "ids.bin"
    ids.write_bytes(ids.read_bytes()[:100])  # what a disk that filled up, or a foreign tool, may leave
    with pytest.warns(UserWarning, match="rebuilding a damaged cache entry"):
        assert np.array_equal(token_store(source, "char", 512, cache).ids, expected)


def test_a_corpus_that_changes_while_it_is_read_is_a_one_line_error(
    tmp_path: Path, small_pieces: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    real = token_store_module.read_pieces

    def appended_meanwhile(*args, **kwargs):
        for index, piece in enumerate(real(*args, **kwargs)):
            if index == 1:
                with open(source.files[0], "a") as handle:  # another program writing to the file
                    handle.write("more text\n")
            yield piece

    monkeypatch.setattr(token_store_module, "read_pieces", appended_meanwhile)
    with pytest.raises(StudioError, match="corpus.txt changed while it was being read") as error:
        token_store(source, "char", 512, cache)
    assert "\n" not in str(error.value)
    assert _published(cache) == [] and _leftovers(cache) == []


def test_a_corpus_changed_between_passes_is_caught_by_its_digest(tmp_path: Path) -> None:
    source = _corpus(tmp_path)
    digest = corpus_reader.source_digest(source)
    source.files[0].write_text(TEXT.upper(), encoding="utf-8", newline="")  # same size, other bytes
    with pytest.raises(StudioError, match="changed while it was being read"):
        list(corpus_reader.read_pieces(source, digest))


def test_too_little_disk_space_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(studio_io.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    with pytest.raises(StudioError, match=r"needs about \d+ MB .* free disk space") as error:
        token_store(_corpus(tmp_path), "char", 512, tmp_path / "cache")
    assert "\n" not in str(error.value)
    assert _published(tmp_path / "cache") == [] and _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize(
    "data, message",
    [
        (b"  \n\t\n", "is empty"),
        (b"abc\xc3\xa9d\xff rest", r"not valid utf-8 \(byte 6\)"),  # found across block boundaries
    ],
)
def test_bad_corpora_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, message: str
) -> None:
    monkeypatch.setattr(token_store_module, "BLOCK_BYTES", 4)
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(StudioError, match=message) as error:
        token_store(CorpusSource(str(path), (path,)), "char", 512, tmp_path / "cache")
    assert "\n" not in str(error.value)


def test_processes_preparing_at_once_share_one_preparation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As DDP ranks do: one prepares under the lock, the others wait and map the same files."""
    source, cache = _corpus(tmp_path), tmp_path / "cache"
    encoded: list[int] = []
    real = token_store_module._write_ids
    monkeypatch.setattr(token_store_module, "_write_ids", lambda *a: encoded.append(1) or real(*a))
    folders: list[Path] = []
    threads = [
        threading.Thread(target=lambda: folders.append(token_store(source, "char", 512, cache).folder))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(folders) == 3 and len(set(folders)) == 1 and len(encoded) == 1


def test_the_data_module_streams_memory_mapped_ids(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    data = TextDataModule(path=str(path), batch_size=2, seq_len=16, cache_dir=str(tmp_path / "cache"))
    train, val = data.split()
    assert isinstance(train, np.memmap) and isinstance(val, np.memmap)
    x, y = next(iter(data.train_dataloader()))
    assert x.dtype == y.dtype == torch.int64 and x.shape == y.shape == (2, 16)
    expected = StreamBatches(torch.from_numpy(train.astype(np.int64)), 2, 16)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(data.train_dataloader(), expected))
    line_break = data.codec.encode("\n")[0]
    assert data.model_dims() == {"vocab_size": len(set(TEXT)) + 1, "line_break_id": line_break, "stateful": True}
    assert data.codec.decode([line_break]) == "\n"
    bpe = TextDataModule(path=str(path), tokenizer="bpe", bpe_vocab_size=300, cache_dir=str(tmp_path / "cache"))
    assert bpe.model_dims()["line_break_id"] is None  # BPE merges line breaks into longer tokens


class _Rank(SimpleNamespace):
    """What the data module reads of a DDP trainer: its rank, the world size, and the batches consumed."""

    def __init__(self, rank: int, world: int) -> None:
        progress = SimpleNamespace(current=SimpleNamespace(processed=0))
        super().__init__(
            global_rank=rank,
            world_size=world,
            fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=progress)),
        )

    def consumed(self, batches: int) -> None:
        """The trainer finished `batches` more training steps."""
        self.fit_loop.epoch_loop.batch_progress.current.processed += batches


def _ranked(path: Path, cache: Path, rank: int, world: int) -> tuple[TextDataModule, _Rank]:
    data = TextDataModule(path=str(path), batch_size=2, seq_len=16, cache_dir=str(cache))
    data.trainer = _Rank(rank, world)  # type: ignore[assignment]
    return data, data.trainer  # type: ignore[return-value]


def test_ddp_ranks_read_disjoint_streams_of_the_mapped_store_and_resume_exactly(tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    train = TextDataModule(path=str(path), cache_dir=str(tmp_path / "cache")).split()[0]
    read: list[set[int]] = []
    for rank in range(2):
        data, trainer = _ranked(path, tmp_path / "cache", rank, 2)
        assert isinstance(data.split()[0], np.memmap)
        # Where each id of this rank's batches sits in the training split: the same streams over positions.
        positions = list(StreamBatches(np.arange(len(train)), 2, 16, rank, 2))
        batches = list(data.train_dataloader())
        assert len(batches) == len(positions) > 4
        for (x, y), (px, py) in zip(batches, positions):
            assert torch.equal(x, torch.from_numpy(train[px.numpy()].astype(np.int64)))
            assert torch.equal(y, torch.from_numpy(train[py.numpy()].astype(np.int64)))
        read.append({int(p) for px, _ in positions for p in px.flatten()})
        # Stopped after 3 steps, saved, and resumed by a new process mapping the same store: the same batches follow.
        loader = data.train_dataloader()
        iterator = iter(loader)
        for _ in range(4):  # one more than consumed: a prefetched batch is not counted
            next(iterator)
        trainer.consumed(3)
        state = loader.state_dict()
        resumed, _ = _ranked(path, tmp_path / "cache", rank, 2)
        again = resumed.train_dataloader()
        again.load_state_dict(state)
        rest = list(again)
        assert state == {"position": 3} and len(rest) == len(batches) - 3
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(rest, batches[3:]))
    assert not read[0] & read[1]  # no position is read by both ranks
    assert len(read[0] | read[1]) == 4 * ((len(train) - 1) // 4)  # together they cover the streams


def test_the_progress_line_shows_rate_and_time_left() -> None:
    stream = io.StringIO()
    line = ProgressLine("encoding corpus.txt", 100, started=0.0, after=0.0, every=0.0, stream=stream)
    line.begun -= 2.0  # as if the phase had run two seconds
    line.advance(50)
    line.close()
    first, last = stream.getvalue().splitlines()
    assert "50.0%" in first and "MB/s" in first and "left" in first
    assert "done in" in last


MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from types import SimpleNamespace
from datamodules.corpus_reader import CorpusSource
from datamodules.token_store import token_store
path = Path(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
store = token_store(CorpusSource(str(path), (path,)), "char", 512, Path(sys.argv[2]))
print(len(store.ids), (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.slow
def test_preparing_a_30_mb_corpus_stays_within_bounded_memory(tmp_path: Path) -> None:
    """The whole-string path took several GB here; the store's peak RSS growth stays under 200 MB."""
    base = EMBEDDED["english"]()
    path = tmp_path / "big.txt"
    with open(path, "w", encoding="utf-8") as handle:
        written, part = 0, 0
        while written < 30_000_000:  # each copy starts elsewhere, so the text is not one repeated block
            text = f"\n\n== part {part} ==\n" + base[(part * 7919) % 5000 :]
            handle.write(text)
            written, part = written + len(text), part + 1
    probe = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path), str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    tokens, growth = map(int, probe.stdout.split())
    assert tokens == written
    assert growth < 200 * 1024**2, f"peak RSS grew by {growth / 1024**2:.0f} MB"
