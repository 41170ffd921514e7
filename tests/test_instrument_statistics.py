"""Statistics per instrument of multi-track pieces, and `studio evaluate` comparing a band model with real bands."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pretty_midi
import pytest
from conftest import run_studio_here

from datamodules.midi_sources import music21_corpus_files
from studio.codecs.midi.statistics import INSTRUMENT_STATISTICS, instrument_statistics, instrument_summary


def _band() -> pretty_midi.PrettyMIDI:
    band = pretty_midi.PrettyMIDI()
    flute = pretty_midi.Instrument(program=73)
    flute.notes = [pretty_midi.Note(80, 72 + k, k * 0.5, k * 0.5 + 0.5) for k in range(4)]  # 72..75, one at a time
    cello = pretty_midi.Instrument(program=42)
    cello.notes = [pretty_midi.Note(80, p, 0.0, 2.0) for p in (36, 43)]  # a held fifth: two sounding together
    second_cello = pretty_midi.Instrument(program=42)  # a second cello track counts with the first
    second_cello.notes = [pretty_midi.Note(80, 48, 2.0, 3.0)]
    silent = pretty_midi.Instrument(program=60)  # no notes: no part
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, k * 1.0, k * 1.0 + 0.1) for k in range(3)]
    band.instruments = [flute, cello, second_cello, silent, drums]
    return band


def test_each_instrument_has_its_own_notes_range_and_polyphony() -> None:
    parts = instrument_statistics(_band())
    assert set(parts) == {"Flute", "Cello", "Drums"}
    assert parts["Flute"] == pytest.approx(
        {
            "notes": 4.0,
            "lowest_pitch": 72.0,
            "highest_pitch": 75.0,
            "pitch_range": 3.0,
            "polyphony": 1.0,
            "notes_per_second": 2.0,
        }
    )
    cello = parts["Cello"]
    assert cello["notes"] == 3 and cello["pitch_range"] == 12 and cello["polyphony"] == pytest.approx(5 / 3)
    assert parts["Drums"]["notes"] == 3
    assert list(cello) == list(INSTRUMENT_STATISTICS)
    assert instrument_statistics(pretty_midi.PrettyMIDI()) == {}


def test_a_summary_gives_each_instruments_share_of_pieces_and_its_means_where_it_plays() -> None:
    flute_only = _band()
    flute_only.instruments = flute_only.instruments[:1]
    summary = instrument_summary([instrument_statistics(_band()), instrument_statistics(flute_only)])
    assert list(summary) == ["Cello", "Drums", "Flute"]
    assert summary["Flute"]["share_of_pieces"] == 1.0 and summary["Flute"]["notes"] == 4.0
    assert summary["Cello"]["share_of_pieces"] == 0.5 and summary["Cello"]["notes"] == 3.0  # its one piece
    assert instrument_summary([]) == {}


@pytest.mark.slow
def test_evaluate_compares_a_band_model_with_real_bands_per_instrument(tmp_path: Path) -> None:
    real = music21_corpus_files("bach_chorales_ensemble", limit=2, folder=tmp_path)
    assert len(real) == 2
    env = dict(os.environ, STUDIO_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    args = ["evaluate", "--ckpt", "bach-ensemble", "--against", str(real[0].parent), "--data", str(real[0].parent)]
    result = run_studio_here(
        [*args, "--samples", "2", "--seconds", "5", "--out_dir", str(tmp_path / "out")], tmp_path, env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = (tmp_path / "out").rglob("evaluation.json")
    report = json.loads(found.read_text())
    assert report["likelihood"]["files"] == 2  # the band's own files are scored, not read as text
    assert "polyphony" in report["generated_vs_real"]
    made, real_parts = report["per_instrument"]["generated"], report["per_instrument"]["real"]
    assert len(made) >= 3 and set(made) <= {"Flute", "Clarinet", "French Horn", "Cello"}
    assert len(real_parts) >= 3
    for part in [*made.values(), *real_parts.values()]:
        assert part["notes"] > 0 and part["highest_pitch"] >= part["lowest_pitch"] and part["polyphony"] >= 1
    assert "French Horn" in result.stdout and "share_of_pieces" in result.stdout
