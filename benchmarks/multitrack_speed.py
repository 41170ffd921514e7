"""Multitrack MIDI encoding: MultitrackCodec against MidiTok's multitrack tokenizers, on the same files in one run.

    python benchmarks/multitrack_speed.py [--chorales 60] [--bands 30] [--repeats 5]

Two sets of multi-instrument files: music21's Bach chorales written to MIDI with an instrument per voice
(Flute, Oboe, Horn, Cello, Trumpet; converted once into the Studio cache), and seeded band pieces written
with pretty_midi (piano, bass, guitar, strings, a lead that changes instrument halfway, a drum kit; 60 s
each). For each set: encoding throughput in files/s (read + events; the median of --repeats passes, the
arms taking turns within each) of MultitrackCodec.encode_file against MidiTok's MIDILike and TSD with `use_programs=True` (`make bench`
installs MidiTok; without it the benchmark stops and says so, it measures no easier baseline instead);
vocabulary sizes; events per second of music (ids over the files' seconds). Bar: at least MIDILike's
speed (and TSD's) on both sets. Each baseline must see every instrument of a file (its Program tokens),
or the benchmark stops: a tokenizer that dropped them would not be the baseline asked for.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pretty_midi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
LINES: list[str] = []

from timing import report  # noqa: E402

from studio.codecs.midi.multitrack import MultitrackCodec  # noqa: E402
from studio.io import cache_root  # noqa: E402

VOICES = ("Flute", "Oboe", "Horn", "Violoncello", "Trumpet")
# (program, low pitch, high pitch, notes per second, note length range in seconds) of each band instrument.
BAND = ((0, 48, 84, 4.0, (0.2, 1.0)), (33, 28, 52, 2.0, (0.2, 0.6)), (25, 45, 76, 3.0, (0.1, 0.5)),
        (48, 50, 80, 0.5, (1.5, 4.0)), (73, 65, 96, 2.5, (0.1, 0.8)))  # fmt: skip
DRUM_KEYS = (36, 38, 42, 46, 49)


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def chorale_files(count: int) -> list[Path]:
    """The first `count` chorales with an instrument per voice, converted once into the Studio cache."""
    from music21 import corpus, instrument

    folder = cache_root() / "music21" / "bach_chorales_instruments"
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((Path(p) for p in corpus.getComposer("bach") if Path(p).name.startswith("bwv")), key=str)
    files = []
    for source in sources[:count]:
        target = folder / f"{source.stem}.mid"
        if not target.is_file():
            score = corpus.parse(str(source))
            for index, part in enumerate(score.parts):
                for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
                    old.activeSite.remove(old)
                part.insert(0, getattr(instrument, VOICES[index % len(VOICES)])())
            partial = target.with_suffix(".tmp")
            score.write("midi", fp=str(partial))
            partial.rename(target)
        files.append(target)
    return files


def band_files(count: int, folder: Path) -> list[Path]:
    """`count` seeded 60 s band pieces: five instruments (the Flute lead hands over to an Alto Sax halfway) and
    a drum kit."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for seed in range(count):
        rng = np.random.default_rng(seed)
        pm = pretty_midi.PrettyMIDI(initial_tempo=float(rng.uniform(80, 160)))
        for program, low, high, rate, (short, long) in BAND:
            part = pretty_midi.Instrument(program=program)
            for start in np.sort(rng.uniform(0, 60, int(rate * 60))):
                end = start + rng.uniform(short, long)
                part.notes.append(
                    pretty_midi.Note(int(rng.integers(30, 120)), int(rng.integers(low, high)), start, end)
                )
            pm.instruments.append(part)
        lead = pm.instruments[-1]
        second = pretty_midi.Instrument(program=65, name="lead, second half")
        second.notes = [note for note in lead.notes if note.start >= 30]
        lead.notes = [note for note in lead.notes if note.start < 30]
        pm.instruments.append(second)
        kit = pretty_midi.Instrument(program=0, is_drum=True)
        for tick in np.arange(0, 60, 0.25):
            key = int(rng.choice(DRUM_KEYS))
            kit.notes.append(pretty_midi.Note(int(rng.integers(60, 127)), key, float(tick), float(tick) + 0.1))
        pm.instruments.append(kit)
        path = folder / f"band_{seed:03d}.mid"
        pm.write(str(path))
        files.append(path)
    return files


def baselines() -> list[tuple[str, object]]:
    """MidiTok's MIDILike and TSD with programs; the benchmark stops with the reason when MidiTok is missing."""
    try:
        import miditok
    except ImportError:
        sys.exit(
            "multitrack_speed: MidiTok, the baseline, is not installed: `make bench` (pip install -e '.[bench]') "
            "installs it"
        )
    version = metadata.version("miditok")
    return [
        (f"MidiTok {version} MIDILike use_programs", miditok.MIDILike(miditok.TokenizerConfig(use_programs=True))),
        (f"MidiTok {version} TSD use_programs", miditok.TSD(miditok.TokenizerConfig(use_programs=True))),
    ]


def files_per_second(arms: dict[str, object], files: list[Path], repeats: int) -> dict[str, float]:
    """Per arm, the median over repeats of len(files) / seconds to run it on each file. The arms take turns
    within each repeat (after one warm-up call each), so a busy moment on the machine falls on all of them."""
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for work in arms.values():
        work(files[0])  # type: ignore[operator]
    for _ in range(repeats):
        for name, work in arms.items():
            start = time.perf_counter()
            for f in files:
                work(f)  # type: ignore[operator]
            rates[name].append(len(files) / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def check_baseline_sees_instruments(name: str, tokenizer, codec: MultitrackCodec, files: list[Path]) -> None:
    """Stop unless the baseline's Program tokens name as many instruments as the codec keeps, file by file."""
    for f in files:
        tokens = tokenizer(f)
        programs = {t for t in tokens.tokens if t.startswith("Program_")}
        ours = len(codec.decode_notes(codec.encode_file(f)))
        if len(programs) != ours:
            sys.exit(
                f"multitrack_speed: {name} saw {len(programs)} instruments in {f.name}, the codec {ours}: fix the setup"
            )


def measure(label: str, files: list[Path], repeats: int) -> dict:
    """Throughput, vocabulary and events per second of music of the codec (both program modes) and baselines."""
    seconds = sum(pretty_midi.PrettyMIDI(str(f)).get_end_time() for f in files)
    codecs = {f"MultitrackCodec (programs={mode})": MultitrackCodec(programs=mode) for mode in ("all", "family")}
    arms: dict[str, dict] = {}
    base = baselines()
    for name, tokenizer in base:
        check_baseline_sees_instruments(name, tokenizer, codecs["MultitrackCodec (programs=all)"], files)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi's and MidiTok's chatter about odd meta events
        work = {name: codec.encode_file for name, codec in codecs.items()} | dict(base)
        rates = files_per_second(work, files, repeats)
        for name, codec in codecs.items():
            events = sum(len(codec.encode_file(f)) for f in files)
            arms[name] = {
                "files_per_s": rates[name],
                "vocab_size": codec.vocab_size,
                "events_per_music_s": events / seconds,
            }
        for name, tokenizer in base:
            events = sum(len(tokenizer(f).ids) for f in files)
            arms[name] = {
                "files_per_s": rates[name],
                "vocab_size": len(tokenizer),
                "events_per_music_s": events / seconds,
            }
    ours = arms["MultitrackCodec (programs=all)"]["files_per_s"]
    instruments = statistics.mean(len(pretty_midi.PrettyMIDI(str(f)).instruments) for f in files)
    LINES.append(f"{label}: {len(files)} files, {seconds / 60:.1f} min of music, {instruments:.1f} instruments a file")
    LINES.append(f"    {'':<44} {'files/s':>8} {'ours/it':>7} {'vocab':>6} {'events/s of music':>18}")
    for name, arm in arms.items():
        ratio = ours / arm["files_per_s"]
        verdict = "" if name.startswith("Multitrack") else f"  bar ours/it >= 1x: {_verdict(ratio >= 1.0)}"
        arm["ours_ratio"] = ratio
        LINES.append(
            f"    {name:<44} {arm['files_per_s']:8.1f} {ratio:6.2f}x {arm['vocab_size']:6d} "
            f"{arm['events_per_music_s']:18.1f}{verdict}"
        )
    return {"files": len(files), "music_seconds": seconds, "instruments_per_file": instruments, "arms": arms}


def round_trips(files: list[Path]) -> int:
    """Files whose every instrument (by program, drums as drums) comes back through encode -> decode."""
    codec, kept = MultitrackCodec(), 0
    for f in files:
        pm = pretty_midi.PrettyMIDI(str(f))
        want = {(0 if i.is_drum else int(i.program), i.is_drum) for i in pm.instruments if i.notes}
        got = {(i.program, i.is_drum) for i in codec.decode(codec.encode_file(f)).instruments}
        kept += want == got
    return kept


def main() -> None:
    """Measure both sets and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chorales", type=int, default=60, help="chorales, an instrument per voice")
    parser.add_argument("--bands", type=int, default=30, help="seeded 60 s band pieces with drums")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes over each set (the median counts)")
    args = parser.parse_args()
    LINES.append("encoding throughput, read + events, one process; every ratio is measured in this run")
    with tempfile.TemporaryDirectory() as folder:
        sets = {"chorales": chorale_files(args.chorales), "bands": band_files(args.bands, Path(folder))}
        results = {label: measure(label, files, args.repeats) for label, files in sets.items()}
        kept = {label: round_trips(files) for label, files in sets.items()}
    for label, count in kept.items():
        LINES.append(f"round trip, {label}: {count}/{len(sets[label])} files keep every instrument (program, drums)")
        results[label]["round_trips"] = count
    met = all(
        arm["ours_ratio"] >= 1.0
        for result in results.values()
        for name, arm in result["arms"].items()
        if not name.startswith("Multitrack")
    )
    LINES.append(f"bar: MultitrackCodec at least as fast as each baseline on both sets: {_verdict(met)}")
    LINES.append(
        "events/s of music: MIDILike writes a Program token before every note, MultitrackCodec only when the "
        "instrument changes; MidiTok times notes on a beat grid (8 steps a beat), MultitrackCodec on 10 ms, so "
        "onsets off the beat (the bands') cost it more TIME_SHIFTs"
    )
    report("multitrack_speed", LINES, results)


if __name__ == "__main__":
    main()
