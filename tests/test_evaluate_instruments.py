"""The mgeval comparison per instrument: each instrument's notes alone, generated against the same instrument
in the real pieces (studio.evaluation.instruments), and `studio evaluate` reporting it for a band model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import run_studio_here

from datamodules.midi_sources import music21_corpus_files
from studio.codecs.midi.statistics import STATISTICS, piece_statistics
from studio.evaluation.against import pieces_against
from studio.evaluation.instruments import (
    compare_instruments,
    instrument_comparison_text,
    instrument_overlaps,
    part_statistics,
)
from studio.evaluation.report import instrument_overlap_plot, write_report

FLUTE, CELLO, TRUMPET = 73, 42, 56
SCALE = (72, 74, 76, 77, 79, 81, 83, 84, 86, 88, 89, 91)  # C major over an octave and a half, high
ROOTS = (38, 40, 43)  # D2, E2, G2, each held with its fifth
# Statistics on which the flute's part and the cello's differ in every piece.
TELLING = ("notes_per_second", "inter_onset_interval", "note_length", "velocity")


def _duo(seed: int, swapped: bool = False, flute: bool = True, cello: bool = True) -> pretty_midi.PrettyMIDI:
    """Eight seconds of a flute running in short, loud notes, one at a time, over a wide high range, above
    a cello holding soft low fifths (or a root alone). `swapped`: the same notes, each instrument playing
    the other's part."""
    rng = np.random.default_rng(seed)
    run, held = [], []
    step, length, top = rng.uniform(0.12, 0.2), rng.uniform(0.9, 1.3), int(rng.integers(7, len(SCALE) + 1))
    for start in np.arange(0.0, 8.0, step):
        pitch = int(rng.choice(SCALE[:top]))
        run.append(pretty_midi.Note(int(rng.integers(85, 100)), pitch, start, start + 0.9 * step))
    for start in np.arange(0.0, 8.0, length):
        root, velocity = int(rng.choice(ROOTS)), int(rng.integers(55, 70))
        chord = (root,) if rng.random() < 0.3 else (root, root + 7)
        held += [pretty_midi.Note(velocity, pitch, start, start + length) for pitch in chord]
    pm = pretty_midi.PrettyMIDI()
    parts = [(FLUTE, held if swapped else run, flute), (CELLO, run if swapped else held, cello)]
    for program, notes, plays in parts:
        if plays:
            pm.instruments.append(pretty_midi.Instrument(program=program))
            pm.instruments[-1].notes = notes
    return pm


def _written(pieces: list[pretty_midi.PrettyMIDI], folder: Path) -> list[Path]:
    """The pieces as MIDI files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, pm in enumerate(pieces):
        paths.append(folder / f"piece_{index}.mid")
        pm.write(str(paths[-1]))
    return paths


def _read(pieces: list[pretty_midi.PrettyMIDI], folder: Path) -> list[pretty_midi.PrettyMIDI]:
    """The pieces written as MIDI files and read back, so they are timed on ticks as the real files are."""
    return [pretty_midi.PrettyMIDI(str(path)) for path in _written(pieces, folder)]


def _with_trumpet(pm: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    """The piece with a trumpet joining in for a second."""
    trumpet = pretty_midi.Instrument(program=TRUMPET)
    trumpet.notes = [pretty_midi.Note(90, 67, 1.0, 2.0)]
    pm.instruments.append(trumpet)
    return pm


def _alone(pm: pretty_midi.PrettyMIDI, program: int) -> pretty_midi.PrettyMIDI:
    """The piece with only the tracks of one program."""
    kept = pretty_midi.PrettyMIDI()
    kept.instruments = [i for i in pm.instruments if i.program == program and not i.is_drum]
    return kept


def test_each_instrument_is_measured_on_its_own_notes_drums_left_out() -> None:
    pm = _duo(0)
    second_flute = pretty_midi.Instrument(program=FLUTE)  # a second flute track counts with the first
    second_flute.notes = [pretty_midi.Note(80, 60, 9.0, 9.5)]
    drums = pretty_midi.Instrument(program=FLUTE, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.1)]
    pm.instruments += [second_flute, drums, pretty_midi.Instrument(program=TRUMPET)]  # a silent trumpet
    parts = part_statistics(pm)
    assert set(parts) == {"Flute", "Cello"}
    for program, name in ((FLUTE, "Flute"), (CELLO, "Cello")):
        alone = piece_statistics(_alone(pm, program))
        assert list(parts[name]) == list(STATISTICS)
        for stat, value in alone.items():
            np.testing.assert_array_equal(parts[name][stat], value, err_msg=f"{name} {stat}")
    assert parts["Flute"]["polyphony"] == 1.0 < parts["Cello"]["polyphony"] <= 2.0  # a line against chords
    highest = max(n.pitch for n in pm.instruments[0].notes)
    assert parts["Flute"]["pitch_range"] == highest - 60  # the second track's low C counts with the first's
    assert part_statistics(pretty_midi.PrettyMIDI()) == {}


@pytest.fixture(scope="module")
def real_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Ten real duos as MIDI files, one with the flute alone, one with a trumpet joining in."""
    pieces = [_duo(seed) for seed in range(8)] + [_duo(8, cello=False), _with_trumpet(_duo(9))]
    return _written(pieces, tmp_path_factory.mktemp("duos"))


def test_swapped_instruments_score_worse_per_instrument_while_pooled_statistics_stay_equal(
    real_files: list[Path], tmp_path: Path
) -> None:
    faithful = _read([_with_trumpet(_duo(100))] + [_duo(100 + k) for k in range(1, 8)], tmp_path / "faithful")
    swapped = [_with_trumpet(_duo(100, swapped=True))] + [_duo(100 + k, swapped=True) for k in range(1, 8)]
    swapped = _read(swapped, tmp_path / "swapped")
    right = pieces_against(faithful, real_files, per_instrument=True)
    wrong = pieces_against(swapped, real_files, per_instrument=True)
    # All instruments' notes together: the same notes, so every pooled comparison is the same.
    assert right.comparisons == wrong.comparisons
    assert set(right.by_instrument) == set(wrong.by_instrument) == {"Cello", "Flute", "Trumpet"}
    # Each instrument counts the pieces it plays in: the flute plays alone in one real piece.
    flute, cello = right.by_instrument["Flute"], right.by_instrument["Cello"]
    assert (flute.generated_pieces, flute.real_pieces, cello.real_pieces) == (8, 10, 9)
    # The trumpet plays in one piece on each side: too few to compare, so it is named but not compared.
    assert right.by_instrument["Trumpet"].comparisons == {} and right.by_instrument["Trumpet"].real_pieces == 1
    # The swapped flute plays the cello's part: measured on its own notes, it is the faithful cello, and
    # it is compared with the real flute (one note at a time), not with the real cello.
    for stat in STATISTICS:
        swapped_flute, cello_part = wrong.by_instrument["Flute"].comparisons[stat], cello.comparisons[stat]
        assert swapped_flute.generated_mean == cello_part.generated_mean, stat
        assert swapped_flute.reference_mean == flute.comparisons[stat].reference_mean, stat
    assert flute.comparisons["polyphony"].reference_mean == 1.0 < 1.3 < cello.comparisons["polyphony"].generated_mean
    for name in ("Flute", "Cello"):
        ours, theirs = right.by_instrument[name].comparisons, wrong.by_instrument[name].comparisons
        assert list(ours) == list(STATISTICS)
        for stat in (*TELLING, "polyphony"):
            assert ours[stat].overlap > 0.5 + theirs[stat].overlap, (name, stat)
        for stat in TELLING:
            assert theirs[stat].overlap < 0.05, (name, stat)
        mean_right = np.mean([c.overlap for c in ours.values()])
        mean_wrong = np.mean([c.overlap for c in theirs.values()])
        assert mean_right > mean_wrong + 0.3, (name, mean_right, mean_wrong)
    # Without asking, nothing is compared per instrument.
    assert pieces_against(faithful, real_files).by_instrument == {}


def test_instruments_on_one_side_only_are_not_compared() -> None:
    flutes = [part_statistics(_duo(seed, cello=False)) for seed in range(3)]
    cellos = [part_statistics(_duo(seed, flute=False)) for seed in range(3)]
    assert compare_instruments(flutes, cellos) == {}
    assert "nothing compared per instrument" in instrument_comparison_text({})
    both = compare_instruments(flutes + cellos, flutes)
    assert list(both) == ["Flute"] and both["Flute"].generated_pieces == 3 == both["Flute"].real_pieces


def test_the_table_json_and_picture_name_each_instrument(real_files: list[Path], tmp_path: Path) -> None:
    made = [_with_trumpet(_duo(100, swapped=True))] + [_duo(100 + k, swapped=True) for k in range(1, 4)]
    found = pieces_against(made, real_files, per_instrument=True)
    text = instrument_comparison_text(found.by_instrument)
    rows = {tuple(line.split()[:2]) for line in text.splitlines()}
    assert {(name, stat) for name in ("Cello", "Flute") for stat in STATISTICS} <= rows
    assert "not compared, in fewer than 2 pieces on a side: Trumpet (1 generated, 1 real)" in text
    assert "Trumpet" not in instrument_overlaps(found.by_instrument)
    plain = json.loads(json.dumps({name: c.as_dict() for name, c in found.by_instrument.items()}))
    flute = plain["Flute"]
    assert (flute["generated_pieces"], flute["real_pieces"]) == (4, 10)
    assert flute["statistics"]["polyphony"]["generated_mean"] > 1.3  # the cello's chords
    assert flute["statistics"]["polyphony"]["reference_mean"] == 1.0
    assert set(flute["statistics"]["note_length"]) >= {"overlap", "kl_divergence", "generated_overlap"}
    picture = tmp_path / "instrument_overlap.png"
    instrument_overlap_plot(instrument_overlaps(found.by_instrument), picture)
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    write_report(tmp_path, {"per_instrument_vs_real": plain}, [picture], text)
    page = (tmp_path / "report.html").read_text()
    assert 'src="instrument_overlap.png"' in page and "Flute" in page


@pytest.mark.slow
def test_evaluate_compares_each_instrument_of_a_band_model_with_itself_in_real_bands(tmp_path: Path) -> None:
    real = music21_corpus_files("bach_chorales_ensemble", limit=4, folder=tmp_path)
    env = dict(os.environ, STUDIO_CACHE=str(tmp_path / "cache"), OMP_NUM_THREADS="1")
    args = ["evaluate", "--ckpt", "bach-ensemble", "--against", str(real[0].parent), "--samples", "3"]
    result = run_studio_here([*args, "--seconds", "6", "--out_dir", str(tmp_path / "out")], tmp_path, env)
    assert result.returncode == 0, result.stderr[-3000:]
    (found,) = (tmp_path / "out").rglob("evaluation.json")
    report = json.loads(found.read_text())
    compared = report["per_instrument_vs_real"]
    played = {name for name, c in compared.items() if c["statistics"]}
    assert len(played) >= 3 and played <= {"Flute", "Clarinet", "French Horn", "Cello"}
    for name in played:
        assert compared[name]["generated_pieces"] >= 2 and compared[name]["real_pieces"] >= 2
        assert list(compared[name]["statistics"]) == list(STATISTICS)
        assert 0 <= compared[name]["statistics"]["pitch_range"]["overlap"] <= 1
    # The cello's own notes lie lower than the pooled notes: its real pitch range is the bass voice's.
    pooled = report["generated_vs_real"]["pitch_range"]["reference_mean"]
    assert compared["Cello"]["statistics"]["pitch_range"]["reference_mean"] < pooled
    assert "statistic (its notes alone)" in result.stdout
    page = (found.parent / "report.html").read_text()
    assert "instrument_overlap.png" in page and (found.parent / "instrument_overlap.png").is_file()
