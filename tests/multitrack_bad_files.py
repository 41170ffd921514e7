"""Unusual multi-track MIDI files for the bad-input tests: no notes, drums only, 130 tracks, a program change
in the middle of a track, and overlapping notes of one pitch on one channel."""

from __future__ import annotations

from pathlib import Path

import mido
from multitrack_bands import band


def _write(path: Path, tracks: list[list[mido.Message]]) -> None:
    midi = mido.MidiFile(type=1, ticks_per_beat=480)
    midi.tracks.extend(mido.MidiTrack(messages) for messages in tracks)
    midi.save(str(path))


def write_unusual_band_files(folder: Path) -> dict[str, str]:
    """Write the five files into `folder`; their paths keyed band:empty, band:drums, band:crowd, band:change and
    band:overlap (the placeholders of tests/test_bad_inputs.py)."""
    folder.mkdir(parents=True, exist_ok=True)
    on = lambda pitch, t=0, ch=0: mido.Message("note_on", note=pitch, velocity=90, time=t, channel=ch)
    off = lambda pitch, t=0, ch=0: mido.Message("note_off", note=pitch, time=t, channel=ch)
    change = lambda program, t=0: mido.Message("program_change", program=program, time=t)
    paths = {name: folder / f"{name}.mid" for name in ("empty", "drums", "crowd", "change", "overlap")}
    _write(paths["empty"], [[mido.MetaMessage("set_tempo", tempo=500_000), change(40)]])  # a program, no notes
    band([(0, True, [(36, 0.0, 0.1, 100), (38, 0.5, 0.6, 90), (42, 0.0, 1.0, 60)], [])]).write(str(paths["drums"]))
    # 130 tracks, 128 distinct instruments (two programs come twice, one of them as the kit).
    parts = [(k % 128, k == 120, [(40 + k % 40, k * 0.05, k * 0.05 + 0.5, 80)], []) for k in range(130)]
    band(parts).write(str(paths["crowd"]))
    # Piano, then a cello from beat 2, then a flute taking over a note that is still sounding.
    _write(
        paths["change"],
        [[change(0), on(60), off(60, 480), change(42), on(62), off(62, 480), on(64), change(73, 240), off(64, 240)]],
    )
    # Middle C struck again while it sounds, and on a second channel at once; one NOTE_OFF each at the end.
    _write(paths["overlap"], [[on(60), on(60, 480), on(60, 0, ch=1), off(60, 960), off(60, 0, ch=1)]])
    return {f"band:{name}": str(path) for name, path in paths.items()}
