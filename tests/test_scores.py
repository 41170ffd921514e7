"""Scores people can read: sampled pieces written as MusicXML, one named part per instrument, on a chosen grid."""

from __future__ import annotations

import os
from pathlib import Path

import music21
import pretty_midi
import pytest
from conftest import run_studio_here

from studio.errors import StudioError
from studio.generation.scores import check_grid, musicxml_bytes
from studio.generation.tasks.midi import MidiRequest

ENSEMBLE = {"Flute", "Clarinet", "French Horn", "Cello"}


def _sample(tmp_path: Path, *args: str) -> Path:
    env = dict(os.environ, STUDIO_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    result = run_studio_here(
        ["sample", "--ckpt", "bach-ensemble", "--seconds", "4", "--num_samples", "1", "--no_render", "--seed", "2"]
        + ["--out_dir", str(tmp_path / "out"), *args],
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (mid,) = (tmp_path / "out").rglob("sample_1.mid")
    return mid


def test_the_score_setting_writes_musicxml_parts_named_after_the_instruments(tmp_path: Path) -> None:
    mid = _sample(tmp_path, "--score_grid", "16")
    score = music21.converter.parse(mid.with_suffix(".musicxml"))
    names = [part.partName for part in score.parts]
    played = {
        pretty_midi.program_to_instrument_name(i.program)
        for i in pretty_midi.PrettyMIDI(str(mid)).instruments
        if i.notes
    }
    assert len(names) >= 3 and set(names) == played and set(names) <= ENSEMBLE
    # Highest instrument first, as in a printed score; each part knows its instrument.
    order = [n for n in ("Flute", "Clarinet", "French Horn", "Cello") if n in names]
    assert names == order
    assert all(part.getInstrument().midiProgram is not None for part in score.parts)
    # Every onset and length sits on the sixteenth-note grid.
    notes = list(score.flatten().notes)
    assert notes and all((float(n.offset) * 4).is_integer() for n in notes)
    assert all((float(n.quarterLength) * 4).is_integer() for n in notes)


def test_no_score_unless_asked(tmp_path: Path) -> None:
    mid = _sample(tmp_path)
    assert not list(mid.parent.glob("*.musicxml"))
    assert MidiRequest().score_grid is None


def test_coarser_grids_and_bad_ones() -> None:
    band = pretty_midi.PrettyMIDI()
    for program, pitch in ((73, 79), (42, 40)):
        instrument = pretty_midi.Instrument(program=program)
        # Onsets off any grid: an eighth-note grid moves them to halves of a beat (0.25 s at 120 bpm).
        instrument.notes = [pretty_midi.Note(80, pitch + k % 3, 0.13 * k, 0.13 * k + 0.3) for k in range(12)]
        band.instruments.append(instrument)
    score = music21.converter.parseData(musicxml_bytes(band, 8), format="musicxml")
    assert [p.partName for p in score.parts] == ["Flute", "Cello"]
    assert all((float(n.offset) * 2).is_integer() for n in score.flatten().notes)
    for bad in (3, 6, 68, -4):
        with pytest.raises(StudioError, match="score_grid"):
            check_grid(bad)
    assert MidiRequest(score_grid=0).score_grid == 0  # 0: no score
    with pytest.raises(StudioError, match="multiple of 4"):
        MidiRequest(score_grid=10)
    with pytest.raises(StudioError, match="no notes"):
        musicxml_bytes(pretty_midi.PrettyMIDI(), 16)
