"""The MIDI store: incremental encoding into shards, atomic publication, rebuilds, and memory-mapped windows."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from midi_songs import write_song
from torch.utils.data import DataLoader, get_worker_info

import datamodules.midi_shards as midi_shards
import studio.io as studio_io
from datamodules.midi import MidiDataModule
from datamodules.midi_store import FORMAT, META, midi_store
from datamodules.midi_stream import JoinedPieces
from datamodules.midi_windows import MidiWindows
from studio.codecs.midi import MidiCodec
from studio.errors import StudioError

ROOT = Path(__file__).resolve().parents[1]
CODEC = MidiCodec()


def _songs(folder: Path, seeds: range) -> list[Path]:
    """Songs of distinct content (each its own seed)."""
    return [write_song(folder / f"song{seed:03d}.mid", seed=seed, notes=20 + seed % 7).resolve() for seed in seeds]


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the codec really encodes (in this process: the store encodes few files serially)."""
    seen: list[str] = []
    real = MidiCodec.encode_file
    monkeypatch.setattr(
        MidiCodec, "encode_file", lambda self, path, *a: seen.append(Path(path).name) or real(self, path, *a)
    )
    return seen


def _expected(files: list[Path]) -> list[list[int]]:
    return [CODEC.encode_file(f) for f in files]


def _shard_names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != META}


def test_adding_files_encodes_only_the_new_ones(tmp_path: Path, encodes: list[str]) -> None:
    folder = tmp_path / "store"
    first = _songs(tmp_path / "songs", range(6))
    store = midi_store(first, CODEC, folder)
    assert store.encoded == 6 and sorted(encodes) == sorted(f.name for f in first)
    assert [p.tolist() for _, p in store.items] == _expected(first) and store.files == first
    assert store.dtype == np.uint16 and all(isinstance(store.piece(i), np.memmap) for i in range(6))
    encodes.clear()
    added = _songs(tmp_path / "songs", range(6, 9))
    again = midi_store(first + added, CODEC, folder)
    assert again.encoded == 3 and sorted(encodes) == sorted(f.name for f in added)  # only the new files
    assert [p.tolist() for _, p in again.items] == _expected(first + added)
    encodes.clear()
    assert midi_store(first + added, CODEC, folder).encoded == 0 and encodes == []  # up to date: nothing read
    meta = json.loads((folder / META).read_text())
    assert meta["format"] == FORMAT and len(meta["contents"]) == 9 and len(meta["files"]) == 9


def test_a_copied_or_touched_file_is_known_by_its_content(tmp_path: Path, encodes: list[str]) -> None:
    folder, songs = tmp_path / "store", _songs(tmp_path / "songs", range(4))
    midi_store(songs, CODEC, folder)
    encodes.clear()
    copy = tmp_path / "songs" / "copy.mid"
    copy.write_bytes(songs[0].read_bytes())
    store = midi_store([*songs, copy.resolve()], CODEC, folder)
    assert store.encoded == 0 and encodes == [] and store.items[-1][1].tolist() == store.items[0][1].tolist()
    write_song(songs[1], seed=50, notes=33)  # same name, new content
    store = midi_store(songs, CODEC, folder)
    assert encodes == [songs[1].name] and store.items[1][1].tolist() == CODEC.encode_file(songs[1])


def test_removed_files_drop_out_and_mostly_unused_shards_are_rewritten(
    tmp_path: Path, encodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(midi_shards, "SHARD_IDS", 4000)  # large shards, so removing files leaves them mostly unused
    folder, songs = tmp_path / "store", _songs(tmp_path / "songs", range(8))
    midi_store(songs, CODEC, folder)
    shards_before = _shard_names(folder)
    encodes.clear()
    kept = songs[:3]
    store = midi_store(kept, CODEC, folder)
    assert store.encoded == 0 and encodes == [] and store.files == kept
    assert [p.tolist() for _, p in store.items] == _expected(kept)
    meta = json.loads((folder / META).read_text())
    assert sorted(meta["files"]) == sorted(str(p) for p in kept) and len(meta["contents"]) == 3
    assert not shards_before & _shard_names(folder)  # the old shard's live pieces were copied, then it went
    assert sum(s["ids"] for s in meta["shards"].values()) == sum(len(ids) for ids in _expected(kept))


def test_unusable_files_are_skipped_counted_and_remembered(tmp_path: Path, encodes: list[str]) -> None:
    songs = _songs(tmp_path / "songs", range(3))
    corrupt, empty = tmp_path / "songs" / "corrupt.mid", tmp_path / "songs" / "empty.mid"
    corrupt.write_bytes(np.random.default_rng(0).bytes(300))
    empty.write_bytes(b"")
    files = [*songs, corrupt.resolve(), empty.resolve()]
    for _ in range(2):
        with pytest.warns(UserWarning, match=r"skipped 2 of 5 MIDI files.*corrupt\.mid.*empty\.mid"):
            store = midi_store(files, CODEC, tmp_path / "store")
        assert store.files == songs and store.skipped == files[3:] and "MThd" in store.reasons[files[3]]
    assert sorted(encodes) == sorted(f.name for f in files)  # the second time, not even the bad ones are parsed
    with pytest.raises(StudioError, match="none of the 2 MIDI files could be read"):
        midi_store(files[3:], CODEC, tmp_path / "store")


def test_an_interrupted_preparation_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(midi_shards, "SHARD_IDS", 300)  # several shards, so some are complete when it stops
    folder, songs = tmp_path / "store", _songs(tmp_path / "songs", range(8))
    midi_store(songs[:4], CODEC, folder)
    published = (folder / META).read_bytes()
    real = midi_shards.ShardWriter.add
    added: list[int] = []

    def interrupted(self, ids):
        added.append(1)
        if len(added) == 3:
            raise KeyboardInterrupt  # Ctrl-C part way through
        return real(self, ids)

    monkeypatch.setattr(midi_shards.ShardWriter, "add", interrupted)
    with pytest.raises(KeyboardInterrupt):
        midi_store(songs, CODEC, folder)
    assert (folder / META).read_bytes() == published  # the last published state is what a reader sees
    # What a SIGKILL leaves: a half-written shard and a renamed one that no meta.json names.
    (folder / ".000099.ids.12345.tmp").write_bytes(b"half")
    (folder / "000098.ids").write_bytes(b"\x00" * 8)
    monkeypatch.setattr(midi_shards.ShardWriter, "add", real)
    store = midi_store(songs, CODEC, folder)
    assert store.encoded == 4 and [p.tolist() for _, p in store.items] == _expected(songs)
    meta = json.loads((folder / META).read_text())
    named = {f"{int(n):06d}.{kind}" for n in meta["shards"] for kind in ("ids", "offsets")}
    assert _shard_names(folder) == named  # leftovers swept


KILLED = """
import sys, time
from pathlib import Path
import datamodules.midi_shards as shards
from datamodules.midi_store import midi_store
from studio.codecs.midi import MidiCodec
real = shards.ShardWriter.add
def add(self, ids):
    where = real(self, ids)
    if where[1] == 2:
        Path(sys.argv[2]).write_text("ready")
        time.sleep(60)
    return where
shards.ShardWriter.add = add
midi_store(sorted(Path(sys.argv[1]).glob("*.mid")), MidiCodec(), Path(sys.argv[3]), workers=0)
"""


@pytest.mark.slow  # the child imports the data modules (torch) first
def test_a_killed_preparation_leaves_nothing_a_later_run_trusts(tmp_path: Path) -> None:
    songs = _songs(tmp_path / "songs", range(5))
    marker, folder = tmp_path / "ready", tmp_path / "store"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(tmp_path / "songs"), str(marker), str(folder)], cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the child never reached its third piece"
    finally:
        child.kill()
        child.wait()
    assert not (folder / META).exists() and any(folder.iterdir())  # a half-written shard, unpublished
    store = midi_store(songs, CODEC, folder)
    assert store.encoded == 5 and [p.tolist() for _, p in store.items] == _expected(songs)


def test_a_store_of_an_older_format_or_damaged_is_rebuilt_with_a_notice(tmp_path: Path, encodes: list[str]) -> None:
    folder, songs = tmp_path / "store", _songs(tmp_path / "songs", range(3))
    midi_store(songs, CODEC, folder)
    meta = json.loads((folder / META).read_text())
    (folder / META).write_text(json.dumps({**meta, "format": FORMAT - 1}))
    encodes.clear()
    with pytest.warns(UserWarning, match=f"rebuilding the MIDI store .*format {FORMAT - 1}") as notices:
        store = midi_store(songs, CODEC, folder)
    assert len([n for n in notices if "rebuilding" in str(n.message)]) == 1 and "\n" not in str(notices[0].message)
    assert store.encoded == 3 and len(encodes) == 3 and [p.tolist() for _, p in store.items] == _expected(songs)
    shard = next(folder.glob("*.ids"))
    shard.write_bytes(shard.read_bytes()[:10])  # what a full disk, or a foreign tool, may leave
    with pytest.warns(UserWarning, match="rebuilding a damaged cache entry"):
        store = midi_store(songs, CODEC, folder)
    assert [p.tolist() for _, p in store.items] == _expected(songs)


def test_too_little_disk_space_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(studio_io.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    folder = tmp_path / "store"
    with pytest.raises(StudioError, match=r"needs about \d+ MB .* free disk space") as error:
        midi_store(_songs(tmp_path / "songs", range(3)), CODEC, folder)
    assert "\n" not in str(error.value) and list(folder.iterdir()) == []


def test_processes_preparing_at_once_share_one_preparation(tmp_path: Path, encodes: list[str]) -> None:
    """As DDP ranks (or nodes sharing a cache) do: one prepares under the lock, the others wait and map."""
    songs = _songs(tmp_path / "songs", range(4))
    stores: list = []
    threads = [
        threading.Thread(target=lambda: stores.append(midi_store(songs, CODEC, tmp_path / "s"))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stores) == 3 and sorted(s.encoded for s in stores) == [0, 0, 4] and len(encodes) == 4
    assert all([p.tolist() for _, p in s.items] == _expected(songs) for s in stores)


def test_parallel_encoding_matches_serial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("datamodules.midi_encoding.SERIAL_BELOW", 2)
    songs = _songs(tmp_path / "songs", range(20))
    (tmp_path / "songs" / "corrupt.mid").write_bytes(b"MThd garbage")  # a chunk with a bad file is retried per file
    files = [*songs, (tmp_path / "songs" / "corrupt.mid").resolve()]
    with pytest.warns(UserWarning, match="skipped 1 of 21"):
        parallel = midi_store(files, CODEC, tmp_path / "parallel", workers=2)
    assert parallel.encoded == 21 and [p.tolist() for _, p in parallel.items] == _expected(songs)


def _module(folder: Path, tmp_path: Path, **kwargs) -> MidiDataModule:
    args = dict(paths=str(folder), window=32, stride=16, batch_size=4, val_fraction=0.3, cache_dir=str(tmp_path / "c"))
    return MidiDataModule(**{**args, **kwargs})


@pytest.mark.parametrize("controls", [None, ["density", "pitch_histogram"]])
def test_windows_from_the_store_equal_windows_from_memory(tmp_path: Path, controls) -> None:
    _songs(tmp_path / "songs", range(9))
    dm = _module(tmp_path / "songs", tmp_path, stretch=(0.9, 1.1), transpose=3, controls=controls)
    dm.setup("fit")
    for split in ("train", "val"):
        stored = dm.train_dataloader().dataset if split == "train" else dm.val_dataloader().dataset
        (stream,) = stored.pieces
        assert isinstance(stream, JoinedPieces)
        # The old path: every piece encoded into memory and joined, BOS ... EOS, in the split's order.
        ids = [t for f in dm.split_files(split) for t in (CODEC.bos_id, *CODEC.encode_file(f), CODEC.eos_id)]
        assert stream.tolist() == ids and len(stream) == len(ids)
        memory = MidiWindows(
            [np.asarray(ids, dtype=np.int64)],
            dm.codec,
            32,
            16 if split == "train" else 32,
            stored.transpose,
            stored.stretch,
            stored.control_dropout,
        )
        assert np.array_equal(memory.index, stored.index) and stored.index.dtype == np.int64
        for i in range(len(stored)):
            torch.manual_seed(i)
            a = stored[i]
            torch.manual_seed(i)
            b = memory[i]
            assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_joined_pieces_slice_like_the_joined_array(tmp_path: Path) -> None:
    store = midi_store(_songs(tmp_path / "songs", range(5)), CODEC, tmp_path / "store")
    order = [3, 0, 4]
    stream = store.joined(order, CODEC)
    whole = [t for i in order for t in (CODEC.bos_id, *store.piece(i).tolist(), CODEC.eos_id)]
    rng = np.random.default_rng(0)
    for a, b in rng.integers(-5, len(whole) + 5, size=(200, 2)):
        assert stream[a:b].tolist() == whole[a:b]
    assert [int(stream[i]) for i in (0, -1, 7)] == [whole[0], whole[-1], whole[7]]


def _check_worker(worker: int) -> None:
    stream = get_worker_info().dataset.pieces[0]
    assert isinstance(stream.shard(0), np.memmap) and Path(stream.shard(0).filename) == stream.shards[0]


# Spawned workers import the data modules (torch) first: slow.
@pytest.mark.parametrize("context", ["fork", pytest.param("spawn", marks=pytest.mark.slow)])
def test_workers_map_the_shards_instead_of_receiving_copies(tmp_path: Path, context: str) -> None:
    _songs(tmp_path / "songs", range(9))
    dm = _module(tmp_path / "songs", tmp_path)
    dm.setup("fit")
    val = dm.val_dataloader().dataset
    (stream,) = val.pieces
    stream[0:10]  # maps the shard here
    pickled = pickle.dumps(val)
    assert np.asarray(stream.shard(0)[:64]).tobytes() not in pickled  # file names travel, not ids
    copy = pickle.loads(pickled)
    assert copy.pieces[0]._maps == {}
    assert isinstance(copy.pieces[0].shard(0), np.memmap) and copy.pieces[0].shard(0).flags.writeable is False
    assert copy.pieces[0].tolist() == stream.tolist()
    inline = [batch for batch in DataLoader(val, batch_size=4)]
    loader = DataLoader(val, batch_size=4, num_workers=2, worker_init_fn=_check_worker, multiprocessing_context=context)
    assert all(torch.equal(x, y) for a, b in zip(loader, inline) for x, y in zip(a, b))
