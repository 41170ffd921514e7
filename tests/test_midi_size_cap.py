"""The MIDI size cap lives in the one function every MIDI file read goes through: a file over 64 MB is refused in
one line before it is read, whichever way it comes in (the codecs' readers, the data module; the CLI's
--primer and --data rows are in test_bad_inputs.py, the server's upload cap in test_server.py)."""

from __future__ import annotations

import pickle
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from midi_songs import write_song

from datamodules.midi import MidiDataModule
from studio.codecs.midi import MidiCodec, load_midi
from studio.codecs.midi.codec import MAX_MIDI_BYTES, read_midi_score
from studio.codecs.midi.multitrack import MultitrackCodec
from studio.codecs.midi.programs import read_program_score
from studio.io import FileTooLarge, read_capped

REFUSAL = "over the 64 MB a MIDI file may be"


@pytest.fixture
def huge(tmp_path: Path) -> Path:
    """A 100 MB "MIDI file": a header, then a hole (sparse: it takes no disk space)."""
    path = tmp_path / "huge" / "huge.mid"
    path.parent.mkdir()
    with open(path, "wb") as handle:
        handle.write(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")
        handle.truncate(100 * 1024**2)
    return path


READERS: dict[str, Callable[[Path], Any]] = {
    "load_midi": load_midi,
    "read_midi_score": read_midi_score,
    "read_program_score": read_program_score,
    "MidiCodec.encode_file": MidiCodec().encode_file,
    "MultitrackCodec.encode_file": MultitrackCodec().encode_file,
}


@pytest.mark.parametrize("read", READERS.values(), ids=READERS.keys())
def test_every_reader_refuses_a_file_over_the_cap_unread(read: Callable[[Path], Any], huge: Path) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(FileTooLarge) as caught:
            read(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024**2, f"{peak:,} bytes allocated: the file was read"
    message = str(caught.value)
    assert "\n" not in message and str(huge) in message and "100 MB" in message and REFUSAL in message


def test_the_data_module_skips_a_file_over_the_cap_and_names_it(huge: Path, tmp_path: Path) -> None:
    for i in range(4):
        write_song(huge.parent / f"song{i}.mid", seed=i)
    data = MidiDataModule(paths=str(huge.parent), window=32, stride=16, cache_dir=str(tmp_path / "cache"))
    with pytest.warns(UserWarning, match=rf"skipped 1 of 5 MIDI files: huge\.mid \(.*{REFUSAL}\)"):
        data.prepare_data()
    assert [p.name for p in data.skipped] == ["huge.mid"]


def test_a_file_at_the_cap_is_read_and_one_byte_more_is_not(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 1000)
    assert read_capped(path, 1000, "thing") == b"x" * 1000
    with pytest.raises(FileTooLarge, match=r"thing .* over the 0 MB a thing may be"):
        read_capped(path, 999, "thing")
    assert MAX_MIDI_BYTES == 64 * 1024**2


def test_the_refusal_names_the_option_and_crosses_processes(huge: Path) -> None:
    with pytest.raises(FileTooLarge) as caught:
        load_midi(huge)
    named = caught.value.given_as("--primer")
    assert str(named).startswith(f"--primer {huge} cannot be read: it is 100 MB") and REFUSAL in str(named)
    assert str(pickle.loads(pickle.dumps(named))) == str(named)
