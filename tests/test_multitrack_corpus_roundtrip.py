"""Every file of the embedded multi-part corpora through MultitrackCodec: encode -> decode keeps each note's
instrument, pitch, onset (to the nearest step) and length (within one step).

The corpora are music21's Bach chorales as the MIDI data module offers them: `bach_chorales_ensemble` (a
voice per instrument) and `bach_chorales` (the same four-part scores, every part a piano, so voices meeting
on one key share it). They are converted once into the Studio cache (`music21_corpus_files`, as a run on
them would), so only a first run pays music21's conversion. The notes to keep are read by pretty_midi, not
by the codec's own reader, and compared with what the codec decodes, instrument by instrument.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import pretty_midi
import pytest

from datamodules.midi_sources import MUSIC21_COLLECTIONS, music21_corpus_files
from studio.codecs.midi import load_midi
from studio.codecs.midi.multitrack import MultitrackCodec, Track
from studio.codecs.midi.programs import REPRESENTATIVES

CORPORA = ("bach_chorales_ensemble", "bach_chorales")
# A tolerance for the seconds pretty_midi computes from ticks and tempi (far below a 10 ms step).
EPSILON = 1e-6
# How many problems of one file the failure message shows.
SHOWN = 3

pytestmark = pytest.mark.slow


def expected_track(instrument: pretty_midi.Instrument, programs: str) -> Track:
    """The instrument a part must come back as: its program (its family's representative when folded), or drums."""
    if instrument.is_drum:
        return Track(0, True)
    program = int(instrument.program)
    return Track(program if programs == "all" else REPRESENTATIVES[program // 8], False)


def round_trip_problems(path: Path, codec: MultitrackCodec) -> list[str]:
    """What encode -> decode of one file loses or adds, note by note (empty when it keeps everything).

    Every note must come back on its instrument, at its pitch, with its onset on the nearest step and its
    length within one step. A note that another note of its instrument and key overlaps (voices in unison,
    a key struck again while it sounds) keeps its onset only: one key sounds once at a time.
    """
    step = codec.step_seconds
    wanted: dict[Track, list[pretty_midi.Note]] = {}
    for instrument in load_midi(path).instruments:
        if instrument.notes:
            wanted.setdefault(expected_track(instrument, codec.programs), []).extend(instrument.notes)
    got = {Track(int(i.program), i.is_drum): i.notes for i in codec.decode(codec.encode_file(path)).instruments}
    problems = []
    if set(got) != set(wanted):
        problems.append(f"instruments {sorted(wanted)} came back as {sorted(got)}")
    for track, notes in wanted.items():
        decoded = _by_pitch(got.get(track, []))
        originals = _by_pitch(notes)
        matched: set[tuple[int, float]] = set()
        for note in notes:
            twin = _nearest(decoded.get(note.pitch, []), note.start)
            if twin is None or abs(twin.start - note.start) > step / 2 + EPSILON:
                problems.append(f"{track}: pitch {note.pitch} at {note.start:.3f} s lost")
                continue
            matched.add((note.pitch, twin.start))
            shared = any(o is not note and o.start < note.end and note.start < o.end for o in originals[note.pitch])
            length, kept = note.end - note.start, twin.end - twin.start
            if not shared and abs(kept - length) > step + EPSILON:
                problems.append(
                    f"{track}: pitch {note.pitch} at {note.start:.3f} s lasts {kept:.3f} s, not {length:.3f}"
                )
        added = [n for ns in decoded.values() for n in ns if (n.pitch, n.start) not in matched]
        problems += [f"{track}: pitch {n.pitch} at {n.start:.3f} s added" for n in added]
    return problems


def _by_pitch(notes: list[pretty_midi.Note]) -> dict[int, list[pretty_midi.Note]]:
    """Notes by pitch, each list by onset."""
    found: dict[int, list[pretty_midi.Note]] = {}
    for note in sorted(notes, key=lambda n: n.start):
        found.setdefault(note.pitch, []).append(note)
    return found


def _nearest(notes: list[pretty_midi.Note], start: float) -> pretty_midi.Note | None:
    """The note (of a list by onset) whose onset is nearest `start`."""
    index = bisect.bisect_left([n.start for n in notes], start)
    near = notes[max(0, index - 1) : index + 1]
    return min(near, key=lambda n: abs(n.start - start)) if near else None


def corpus_sources(collection: str) -> int:
    """How many distinct scores (by file name, as they are converted) the music21 collection holds."""
    from music21 import corpus

    composer, wanted = MUSIC21_COLLECTIONS[collection]
    return len({Path(p).stem for p in corpus.getComposer(composer) if wanted(Path(p))})


@pytest.mark.parametrize("collection", CORPORA)
@pytest.mark.parametrize("programs", ["all", "family"])
def test_every_file_of_the_corpus_keeps_each_notes_instrument_pitch_onset_and_length(
    collection: str, programs: str
) -> None:
    files = music21_corpus_files(collection)
    # Every score music21 can read was converted (a few of its files may be beyond its own parsers).
    assert len(files) >= 0.95 * corpus_sources(collection), f"{collection}: only {len(files)} files converted"
    codec = MultitrackCodec(programs=programs)
    failed = {path.name: problems for path in files if (problems := round_trip_problems(path, codec))}
    shown = "; ".join(f"{name}: {', '.join(problems[:SHOWN])}" for name, problems in sorted(failed.items()))
    assert not failed, f"{len(failed)} of {len(files)} {collection} files lose notes (programs={programs}): {shown}"
    if collection == "bach_chorales_ensemble":  # a voice per instrument: four instruments or more in the chorales
        # (the folder holds a keyboard piece or two, such as bwv846, a prelude on one piano)
        bands = sum(len(codec.decode_notes(codec.encode_file(path))) >= 4 for path in files)
        assert bands >= 0.95 * len(files), f"only {bands} of {len(files)} files play four instruments or more"
