"""Scores people can read: a piece as MusicXML (through music21), one part per instrument, quantised to a grid.

music21 reads the piece's MIDI (quantising onsets and lengths to the grid), then each part is named
after its instrument and given the instrument music21 knows by its General MIDI program. Parts run
from the highest instrument to the lowest, as in a printed score. (music21 writes no ABC, so there is
no ABC score.)
"""

from __future__ import annotations

import copy
import io
import statistics
from typing import TYPE_CHECKING, Any

from studio.errors import StudioError

if TYPE_CHECKING:
    import pretty_midi

# Grids a score may use: notes per whole note (4 = quarters, 16 = sixteenths, 12 = eighth-note triplets).
GRID_STEP = 4
MAX_GRID = 64


def check_grid(grid: int) -> int:
    """The grid itself if it divides a quarter note evenly (a multiple of 4 up to 64); StudioError otherwise."""
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < GRID_STEP or grid > MAX_GRID or grid % GRID_STEP:
        raise StudioError(
            f"--score_grid {grid!r} must be a multiple of {GRID_STEP} up to {MAX_GRID} "
            "(notes per whole note: 4 quarters, 8 eighths, 12 eighth triplets, 16 sixteenths), or 0 for no score"
        )
    return grid


def instrument_label(instrument: pretty_midi.Instrument) -> str:
    """An instrument's General MIDI name (Flute, French Horn, ...), or Drums."""
    import pretty_midi

    return "Drums" if instrument.is_drum else str(pretty_midi.program_to_instrument_name(int(instrument.program)))


def score_of(pm: pretty_midi.PrettyMIDI, grid: int) -> Any:
    """The piece as a music21 Score quantised to `grid` notes per whole note, a named part per instrument."""
    import music21
    import pretty_midi

    check_grid(grid)
    played = [i for i in pm.instruments if i.notes]
    if not played:
        raise StudioError("the piece has no notes to write as a score")
    # Highest part first; each track named with a unique key, so the parsed parts can be matched back.
    played.sort(key=lambda i: -statistics.fmean(n.pitch for n in i.notes))
    copied = pretty_midi.PrettyMIDI(initial_tempo=120.0)  # seconds as written: two beats each
    keys: dict[str, pretty_midi.Instrument] = {}
    for index, instrument in enumerate(played):
        track = copy.deepcopy(instrument)
        track.control_changes, track.pitch_bends = [], []
        track.name = f"part{index}"
        keys[track.name] = instrument
        copied.instruments.append(track)
    buffer = io.BytesIO()
    copied.write(buffer)
    score: Any = music21.converter.parse(
        buffer.getvalue(), format="midi", quantizePost=True, quarterLengthDivisors=(grid // GRID_STEP,)
    )
    for part in score.parts:
        source = keys.get(str(part.partName or ""))
        if source is None:
            continue
        label = instrument_label(source)
        for old in list(part.recurse().getElementsByClass(music21.instrument.Instrument)):
            old.activeSite.remove(old)
        if source.is_drum:
            known: Any = music21.instrument.UnpitchedPercussion()
        else:
            try:
                known = music21.instrument.instrumentFromMidiProgram(int(source.program))
            except music21.exceptions21.InstrumentException:
                known = music21.instrument.Instrument()
        known.partName = label
        known.partAbbreviation = label[:5] + "."
        part.insert(0, known)
        part.partName = label
        part.partAbbreviation = known.partAbbreviation
    return score


def musicxml_bytes(pm: pretty_midi.PrettyMIDI, grid: int) -> bytes:
    """The piece as a MusicXML document (see score_of), in memory (so it can be written atomically)."""
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    try:
        return bytes(GeneralObjectExporter(score_of(pm, grid)).parse())
    except StudioError:
        raise
    except Exception as error:  # music21 raises its own exceptions for notation it cannot write
        raise StudioError(f"music21 could not write the score ({type(error).__name__}: {error})") from None
