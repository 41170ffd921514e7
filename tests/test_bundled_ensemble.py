"""The bundled multi-instrument model plays several instruments together, each on its own track."""

from __future__ import annotations

from itertools import combinations

from studio.generation import Generator


def test_bach_ensemble_plays_three_or_more_instruments_at_once() -> None:
    piece = Generator.from_checkpoint("bach-ensemble").midi(seconds=12, seed=3)[0]
    tracks = {track.program: track.notes for track in piece.midi.instruments if track.notes and not track.is_drum}
    assert len(tracks) >= 3  # distinct General MIDI programs, one track each

    def overlap(a: list, b: list) -> bool:
        return any(x.start < y.end and y.start < x.end for x in a for y in b)

    together = [pair for pair in combinations(tracks, 2) if overlap(tracks[pair[0]], tracks[pair[1]])]
    assert len(together) >= 3  # they sound together, not one after another


def test_asking_for_instruments_keeps_to_them() -> None:
    piece = Generator.from_checkpoint("bach-ensemble").midi(seconds=6, seed=1, programs="flute,cello")[0]
    assert {track.program for track in piece.midi.instruments if track.notes} <= {73, 42}
