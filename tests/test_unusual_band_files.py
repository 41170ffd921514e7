"""The data module over unusual multi-track files (the command line's rows are in tests/test_bad_inputs.py):
files it cannot use are skipped and named with the reason, the others are read as docs/midi.md says."""

from __future__ import annotations

from pathlib import Path

import pytest
from multitrack_bad_files import write_unusual_band_files
from test_multitrack_data import _band, _module

from studio.codecs.midi.multitrack import Track


def test_the_data_module_skips_and_names_what_it_cannot_use(tmp_path: Path) -> None:
    folder = tmp_path / "bands"
    for i in range(6):
        _band(folder / f"band{i}.mid", seed=i)
    files = write_unusual_band_files(folder)
    dm = _module(folder, tmp_path, instruments=True, encode_workers=1)
    with pytest.warns(UserWarning, match=r"skipped 2 of 11 MIDI files: crowd\.mid .*empty\.mid"):
        store = dm.encoded()
    reasons = {path.name: why for path, why in store.reasons.items()}
    assert set(reasons) == {"empty.mid", "crowd.mid"}
    assert "no notes" in reasons["empty.mid"] and "128 instruments, more than max_tracks=16" in reasons["crowd.mid"]
    codec = dm.codec
    read = {Path(path).name: codec.decode_notes(ids) for path, ids in store.items}
    assert set(read["drums.mid"]) == {Track(0, True)}  # one kit
    assert {t.program: [n.pitch for n in notes] for t, notes in read["change.mid"].items()} == {
        0: [60],
        42: [62],
        73: [64],
    }  # each note with the program in force when it ends
    assert [(n.start, n.end) for n in read["overlap.mid"][Track(0, False)]] == [(0, 50), (50, 150)]
    dm.setup("fit")
    assert len(dm.train_dataloader()) > 0
    assert Path(files["band:drums"]).exists()
