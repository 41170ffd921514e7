"""Named MIDI collections (MAESTRO, Lakh): fetched once from a loopback server, checked, unpacked safely, split as published."""

from __future__ import annotations

import hashlib
import http.server
import io
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from local_server import serving
from midi_songs import write_song

from datamodules import midi_collections
from datamodules.midi import MidiDataModule
from datamodules.midi_collections import COLLECTIONS, MidiCollection, collection_files
from studio.downloads import Remote
from studio.errors import StudioError

# A fabricated MAESTRO: the real archive's layout (maestro-v3.0.0/<year>/<name>.midi and the CSV beside them).
SPLITS = {
    "2004/a.midi": "train",
    "2004/b.midi": "train",
    "2006/c.midi": "train",
    "2006/d.midi": "train",
    "2008/e.midi": "validation",
    "2008/f.midi": "validation",
    "2009/g.midi": "test",
    "2011/h.midi": "test",
}


@dataclass
class Served:
    """The loopback server's address and the paths it was asked for."""

    base: str
    www: Path
    requests: list[str] = field(default_factory=list)


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    """Serve tmp_path/www on 127.0.0.1, recording each request."""
    www = tmp_path / "www"
    www.mkdir()
    seen = Served("", www)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(www), **kwargs)

        def log_message(self, format: str, *args) -> None:
            seen.requests.append(self.path)

    with serving(Handler) as base:
        seen.base = base
        yield seen


def midi_bytes(tmp_path: Path, seed: int) -> bytes:
    return write_song(tmp_path / "songs" / f"{seed}.mid", seed=seed, notes=30).read_bytes()


def maestro_zip(served: Served, tmp_path: Path, extra: dict[str, bytes] | None = None) -> MidiCollection:
    """A small zip in MAESTRO's layout on the server, and the collection describing it (size and SHA-256)."""
    rows = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for i, (name, split) in enumerate(SPLITS.items()):
            bundle.writestr(f"maestro-v3.0.0/{name}", midi_bytes(tmp_path, i))
            rows.append(f'Composer {i},"Piece, {i}",{split},{name[:4]},{name},{name[:-5]}.wav,{60 + i}.5')
        bundle.writestr("maestro-v3.0.0/maestro-v3.0.0.csv", "\n".join(rows) + "\n")
        bundle.writestr("maestro-v3.0.0/LICENSE", "CC BY-NC-SA 4.0\n")
        for name, data in (extra or {}).items():
            bundle.writestr(name, data)
    data = buffer.getvalue()
    (served.www / "maestro-v3.0.0-midi.zip").write_bytes(data)
    remote = Remote(f"{served.base}/maestro-v3.0.0-midi.zip", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return MidiCollection(remote, "maestro-v3.0.0-midi.zip", "maestro-v3.0.0", "maestro-v3.0.0.csv")


def clean_midi_tar(served: Served, tmp_path: Path) -> MidiCollection:
    """A small .tar.gz in clean_midi's layout (clean_midi/<Artist>/<Title>.mid) on the server."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i, name in enumerate(["Artist A/Song.mid", "Artist A/Song.1.mid", "Band B/Tune.mid", "Band B/Other.mid"]):
            data = midi_bytes(tmp_path, 100 + i)
            member = tarfile.TarInfo(f"clean_midi/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    data = buffer.getvalue()
    (served.www / "clean_midi.tar.gz").write_bytes(data)
    remote = Remote(f"{served.base}/clean_midi.tar.gz", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return MidiCollection(remote, "clean_midi.tar.gz", "clean_midi")


def test_the_real_collections_are_pinned_by_size_and_digest() -> None:
    assert set(COLLECTIONS) == {"maestro", "lakh", "lakh_clean"}
    for collection in COLLECTIONS.values():
        assert collection.remote.size and collection.remote.sha256 and len(collection.remote.sha256) == 64
        assert collection.remote.url.endswith("/" + collection.archive)
    assert COLLECTIONS["maestro"].split_file == "maestro-v3.0.0.csv"


def test_maestro_is_downloaded_once_and_split_as_its_csv_says(served: Served, tmp_path: Path) -> None:
    table = {"maestro": maestro_zip(served, tmp_path)}
    cache = tmp_path / "cache"
    found = collection_files("maestro", cache, table=table)
    root = (cache / "datasets" / "maestro" / "maestro-v3.0.0").resolve()
    assert found.files == sorted(root / name for name in SPLITS)
    names = {"train": "train", "validation": "val", "test": "test"}
    assert found.splits == {root / name: names[split] for name, split in SPLITS.items()}
    assert served.requests == ["/maestro-v3.0.0-midi.zip"]
    assert collection_files("maestro", cache, table=table) == found
    # Unpacked again from the cached archive, not downloaded again.
    shutil.rmtree(cache / "datasets" / "maestro")
    assert collection_files("maestro", cache, table=table) == found
    assert len(served.requests) == 1
    assert not list((cache / "datasets").glob("*.tmp")) and not list((cache / "datasets").glob(".*.tmp"))


def test_a_wrong_size_is_one_line_naming_the_file_and_the_fix_and_leaves_nothing(
    served: Served, tmp_path: Path
) -> None:
    good = maestro_zip(served, tmp_path)
    assert good.remote.size is not None
    bad = MidiCollection(Remote(good.remote.url, size=good.remote.size + 1), good.archive, good.root, good.split_file)
    cache = tmp_path / "cache"
    with pytest.raises(StudioError) as error:
        collection_files("maestro", cache, table={"maestro": bad})
    message = str(error.value)
    assert "\n" not in message and good.remote.url in message and "--data.init_args.paths" in message
    assert f"expected {bad.remote.size}" in message
    # Only the (empty) lock file stays: no archive, no partial download, no unpacked folder.
    assert sorted(p.name for p in (cache / "datasets").iterdir()) == [".maestro-v3.0.0-midi.zip.lock"]


def test_a_member_outside_the_folder_is_refused_and_nothing_is_unpacked(served: Served, tmp_path: Path) -> None:
    evil = maestro_zip(served, tmp_path, extra={"maestro-v3.0.0/../../evil.mid": b"MThd"})
    cache = tmp_path / "cache"
    with pytest.raises(StudioError, match=r"unsafe member 'maestro-v3.0.0/\.\./\.\./evil.mid' \(a '\.\.' path\)"):
        collection_files("maestro", cache, table={"maestro": evil})
    assert not list(tmp_path.rglob("evil.mid"))
    assert not (cache / "datasets" / "maestro").exists()
    assert not [p for p in (cache / "datasets").iterdir() if p.name.endswith(".tmp")]


def test_a_split_file_naming_a_missing_file_is_one_line(served: Served, tmp_path: Path) -> None:
    table = {"maestro": maestro_zip(served, tmp_path)}
    cache = tmp_path / "cache"
    collection_files("maestro", cache, table=table)
    (cache / "datasets" / "maestro" / "maestro-v3.0.0" / "2009" / "g.midi").unlink()
    with pytest.raises(StudioError, match=r"names 2009/g.midi, which is not a file under .*download the collection"):
        collection_files("maestro", cache, table=table)


def test_limit_keeps_every_split(served: Served, tmp_path: Path) -> None:
    found = collection_files("maestro", tmp_path / "cache", limit=4, table={"maestro": maestro_zip(served, tmp_path)})
    assert found.splits is not None
    assert sorted(found.splits.values()) == ["test", "train", "train", "val"]
    assert [p.name for p in found.files] == ["a.midi", "b.midi", "e.midi", "g.midi"]


def test_the_data_module_trains_validates_and_tests_on_maestros_own_split(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(midi_collections.COLLECTIONS, "maestro", maestro_zip(served, tmp_path))
    dm = MidiDataModule(corpus="maestro", window=16, stride=8, batch_size=2, cache_dir=str(tmp_path / "cache"))
    by_split = {split: sorted(p.name for p in dm.split_files(split)) for split in ("train", "val", "test")}
    assert by_split == {
        "train": ["a.midi", "b.midi", "c.midi", "d.midi"],
        "val": ["e.midi", "f.midi"],
        "test": ["g.midi", "h.midi"],
    }
    # The test files' events are in the test stream and in no training window.
    store = dm.encoded()
    test_ids = [store.piece(store.files.index(p)).tolist() for p in dm.split_files("test")]
    stream = dm.stream("train")
    train_ids = [int(stream[i]) for i in range(len(stream))]
    text = "," + ",".join(map(str, train_ids)) + ","
    assert all("," + ",".join(map(str, ids)) + "," not in text for ids in test_ids)
    assert len(dm.stream("test")) == sum(len(ids) + 2 for ids in test_ids)  # BOS, events, EOS per piece
    batch = next(iter(dm.test_dataloader()))
    assert batch[0].shape == (2, 16)
    assert served.requests == ["/maestro-v3.0.0-midi.zip"]
    # A second data module (a second run) finds everything in the cache.
    again = MidiDataModule(corpus="maestro", window=16, stride=8, batch_size=2, cache_dir=str(tmp_path / "cache"))
    assert again.split_files("test") == dm.split_files("test") and len(served.requests) == 1


def test_lakh_clean_unpacks_a_tar_and_draws_its_split_by_file(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(midi_collections.COLLECTIONS, "lakh_clean", clean_midi_tar(served, tmp_path))
    dm = MidiDataModule(
        corpus="lakh_clean", window=16, stride=8, batch_size=2, val_fraction=0.25, cache_dir=str(tmp_path / "cache")
    )
    names = sorted(p.name for p in dm.files())
    assert names == ["Other.mid", "Song.1.mid", "Song.mid", "Tune.mid"]
    train, val = set(dm.split_files("train")), set(dm.split_files("val"))
    assert len(val) == 1 and not train & val and dm.split_files("test") == dm.split_files("val")
    assert served.requests == ["/clean_midi.tar.gz"]


def test_an_unknown_corpus_names_the_downloadable_ones(tmp_path: Path) -> None:
    dm = MidiDataModule(corpus="maestra", cache_dir=str(tmp_path))
    with pytest.raises(StudioError, match="unknown music21 collection 'maestra'.*maestro, lakh, lakh_clean"):
        dm.files()
