"""Small random piano pieces written with pretty_midi, for tests that need MIDI files on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import pretty_midi


def write_song(
    path: Path,
    seed: int,
    notes: int = 40,
    low: int = 40,
    high: int = 90,
    pitches: Optional[Sequence[int]] = None,
    gaps: tuple[float, float] = (0.1, 0.5),
) -> Path:
    """A random piano piece of `notes` notes with pitches in [low, high) (or among `pitches`), written to `path`.

    Onsets are `gaps` seconds apart (drawn uniformly); each note lasts 0.3 s.
    """
    rng = np.random.default_rng(seed)
    choices = list(pitches) if pitches is not None else list(range(low, high))
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    t = 0.0
    for _ in range(notes):
        inst.notes.append(pretty_midi.Note(int(rng.integers(30, 120)), int(rng.choice(choices)), t, t + 0.3))
        t += float(rng.uniform(*gaps))
    pm.instruments.append(inst)
    path.parent.mkdir(parents=True, exist_ok=True)
    pm.write(str(path))
    return path
