"""Music sources: finding MIDI files, music21 corpus conversion, and cached (parallel) encoding."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from midi_songs import write_song

import studio.codecs.midi.codec
from datamodules.midi_sources import encode_files, find_midi_files, music21_corpus_files
from studio.codecs.midi import MidiCodec
from studio.errors import StudioError


@pytest.fixture
def corpus(tmp_path) -> dict[str, Path]:
    """Three good songs (one nested, one upper-case .MIDI), a corrupt file, an empty file, a non-MIDI file."""
    root = tmp_path / "songs"
    files = {
        "a": write_song(root / "a.mid", 1, notes=12),
        "b": write_song(root / "deep" / "er" / "b.MIDI", 2, notes=12),
        "c": write_song(root / "c.mid", 3, notes=12),
        "corrupt": root / "corrupt.mid",
        "empty": root / "empty.mid",
    }
    files["corrupt"].write_bytes(np.random.default_rng(0).bytes(500))
    files["empty"].write_bytes(b"")
    (root / "notes.txt").write_text("not music")
    return files


def test_find_midi_files_expands_folders_globs_and_files(corpus, tmp_path) -> None:
    root = tmp_path / "songs"
    every = sorted(p.resolve() for p in corpus.values())
    assert find_midi_files(str(root)) == every
    assert find_midi_files(str(root / "**" / "*.MIDI")) == [corpus["b"].resolve()]
    # Overlapping inputs are de-duplicated and the result stays sorted.
    assert find_midi_files([str(corpus["c"]), root, f"{root}/*.mid"]) == every


def test_find_midi_files_names_the_input_that_matched_nothing(tmp_path) -> None:
    (tmp_path / "readme.txt").write_text("x")
    for bad in (str(tmp_path), str(tmp_path / "missing"), f"{tmp_path}/**/*.mid"):
        with pytest.raises(StudioError, match="no .mid/.midi files found under") as info:
            find_midi_files(bad)
        assert bad in str(info.value)


def test_encode_files_skips_and_names_unreadable_files(corpus, tmp_path) -> None:
    codec = MidiCodec()
    files = find_midi_files(str(tmp_path / "songs"))
    with pytest.warns(UserWarning) as caught:
        result = encode_files(files, codec, tmp_path / "cache")
    messages = [str(w.message) for w in caught if "skipped" in str(w.message)]
    assert len(messages) == 1
    assert "skipped 2 of 5 MIDI files" in messages[0]
    assert "corrupt.mid" in messages[0] and "empty.mid" in messages[0]
    assert sorted(result.skipped) == sorted([corpus["corrupt"].resolve(), corpus["empty"].resolve()])
    assert "MThd" in result.reasons[corpus["corrupt"].resolve()]  # the parser's own diagnosis is kept
    assert [p for p, _ in result.items] == sorted(corpus[k].resolve() for k in "abc")
    for path, ids in result.items:
        assert ids.dtype == np.int64 and ids.tolist() == codec.encode_file(path)
    assert result.total_tokens == sum(len(ids) for ids in result.sequences)


def test_second_call_is_served_from_the_cache_without_parsing(corpus, tmp_path, monkeypatch) -> None:
    codec = MidiCodec()
    files = find_midi_files(str(tmp_path / "songs"))
    with pytest.warns(UserWarning):
        first = encode_files(files, codec, tmp_path / "cache")

    parses: list[str] = []

    def no_parsing(*args, **kwargs):
        parses.append(str(args))
        raise AssertionError("parsed a MIDI file although it was cached")

    monkeypatch.setattr(pretty_midi, "PrettyMIDI", no_parsing)
    monkeypatch.setattr(studio.codecs.midi.codec, "read_score", no_parsing)
    with pytest.warns(UserWarning, match="skipped 2 of 5"):
        second = encode_files(files, codec, tmp_path / "cache")
    assert parses == []
    assert [(p, ids.tolist()) for p, ids in second.items] == [(p, ids.tolist()) for p, ids in first.items]
    assert second.skipped == first.skipped


def test_cache_is_refreshed_when_the_file_or_codec_changes(corpus, tmp_path) -> None:
    files = [corpus["a"], corpus["c"]]
    before = encode_files(files, MidiCodec(), tmp_path / "cache")
    write_song(corpus["a"], seed=99, notes=30)
    after = encode_files(files, MidiCodec(), tmp_path / "cache")
    assert after.items[0][1].tolist() == MidiCodec().encode_file(corpus["a"]) != before.items[0][1].tolist()
    assert after.items[1][1].tolist() == before.items[1][1].tolist()
    coarse = MidiCodec(resolution_ms=50)
    assert encode_files(files, coarse, tmp_path / "cache").items[1][1].tolist() == coarse.encode_file(corpus["c"])
    assert len(list((tmp_path / "cache").glob("*.ids"))) == 5


def test_parallel_encoding_matches_serial(corpus, tmp_path) -> None:
    files = [corpus[k] for k in ("a", "b", "c", "corrupt")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = encode_files(files, MidiCodec(), tmp_path / "serial")
        parallel = encode_files(files, MidiCodec(), tmp_path / "parallel", workers=2)
    assert [(p, ids.tolist()) for p, ids in parallel.items] == [(p, ids.tolist()) for p, ids in serial.items]
    assert parallel.skipped == serial.skipped == [corpus["corrupt"]]


def test_nothing_usable_raises_studio_error(corpus, tmp_path) -> None:
    with pytest.raises(StudioError, match="none of the 2 MIDI files could be read.*corrupt.mid"):
        encode_files([corpus["corrupt"], corpus["empty"]], MidiCodec(), tmp_path / "cache")
    with pytest.raises(StudioError):
        encode_files([], MidiCodec(), tmp_path / "cache")


def test_music21_chorales_convert_offline_once(tmp_path, monkeypatch, capsys) -> None:
    files = music21_corpus_files("bach_chorales", limit=2, folder=tmp_path)
    said = capsys.readouterr().err
    assert f"converting 2 music21 scores (bach_chorales) to MIDI, once: later runs read them from {tmp_path}" in said
    assert [f.name for f in files] == ["bwv1.6.mid", "bwv10.7.mid"]
    assert all(f.parent == tmp_path / "bach_chorales" for f in files)  # in the folder asked for, nowhere else
    codec = MidiCodec()
    for f in files:
        ids = codec.encode_file(f)
        assert len(ids) > 100 and codec.seconds(ids) > 10
    stamps = [os.stat(f).st_mtime_ns for f in files]

    import music21.converter

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted a chorale again although it was cached")

    monkeypatch.setattr(music21.converter, "parse", no_conversion)
    assert music21_corpus_files("bach_chorales", limit=2, folder=tmp_path) == files
    assert [os.stat(f).st_mtime_ns for f in files] == stamps
    assert "converting" not in capsys.readouterr().err  # nothing to convert, nothing said


def test_music21_folk_collection_and_unknown_name(tmp_path) -> None:
    files = music21_corpus_files("ryans_mammoth", limit=2, folder=tmp_path)
    assert len(files) == 2 and all(MidiCodec().encode_file(f) for f in files)
    with pytest.raises(StudioError, match="bach_chorales"):
        music21_corpus_files("nope", folder=tmp_path)
