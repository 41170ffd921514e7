"""Data scale (MIDI): encoding collections of 2,000, 20,000 and 50,000 files into the MIDI store, in bounded memory.

Random piano songs of distinct content (each file its own seed) are written straight as Standard
MIDI Files into folders of 1,000; a collection of N files is the first N/1,000 folders. Child
processes, each under an address-space limit (so a regression fails with a message, not the
machine), run what `studio fit` runs: `MidiDataModule.prepare_data()` (the store) and `setup("fit")`
(the window index). Measured: encoding files/s with one process and with one per core, peak RSS of
preparation and indexing (the child's own: its encoding workers are separate processes), and an
incremental add of 100 files to the largest collection.

Bars: files/s with one process per core >= 0.8 x (one process's files/s) x cores, the one-process
rate measured before and after the parallel runs (the faster is used); peak RSS for the largest
collection <= 2x that for 2,000 files. On a shared machine other work takes cores, so the report
also prints how much faster than one process a pure-Python loop ran in as many processes, then. Larger collections are skipped, and said so, when the
run would pass `--budget_s`. Run: `python benchmarks/data_scale_midi.py` (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

from datamodules.midi_encoding import default_workers

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GB = 1024**3
PER_FOLDER, NOTES, ADDED = 1000, 200, 100
RATE_SHARE, RSS_RATIO = 0.8, 2.0

CHILD = """
import json, sys, time, warnings
from datamodules.midi import MidiDataModule
folders, cache, workers = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
data = MidiDataModule(paths=folders, cache_dir=cache, encode_workers=workers, window=256, stride=128)
with warnings.catch_warnings():
    warnings.simplefilter("error")  # a skipped file would make the counts wrong
    data.prepare_data()
prepared = time.perf_counter()
data.setup("fit")
train, val = data.train_dataloader().dataset, data.val_dataloader().dataset
store = data.encoded()
print(json.dumps({
    "prepare_s": prepared - start, "index_s": time.perf_counter() - prepared, "files": len(store),
    "encoded": store.encoded, "shards": len(store.shards), "tokens": store.total_tokens,
    "windows": len(train) + len(val), "index_bytes": train.index.nbytes + val.index.nbytes,
}))
"""


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def song_bytes(seed: int, notes: int = NOTES) -> bytes:
    """A Standard MIDI File (format 0, 480 ticks per beat) of `notes` random piano notes, drawn from `seed`."""
    rng = np.random.default_rng(seed)
    onsets = np.cumsum(rng.integers(30, 240, notes))
    ends = onsets + rng.integers(60, 480, notes)
    pitches, velocities = rng.integers(36, 96, notes), rng.integers(30, 120, notes)
    events = sorted(
        [(int(t), 1, 0x90, int(p), int(v)) for t, p, v in zip(onsets, pitches, velocities)]
        + [(int(t), 0, 0x80, int(p), 0) for t, p in zip(ends, pitches)]
    )
    track, now = bytearray(), 0
    for tick, _, status, pitch, velocity in events:
        track += _vlq(tick - now) + bytes((status, pitch, velocity))
        now = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_songs(root: Path, folders: int) -> float:
    """Folders part000, part001, ... of PER_FOLDER songs each (seed = file number); seconds taken."""
    start = time.perf_counter()
    for part in range(folders):
        folder = root / f"part{part:03d}"
        if folder.exists():
            continue
        folder.mkdir(parents=True)
        for i in range(PER_FOLDER):
            number = part * PER_FOLDER + i
            (folder / f"song{number:06d}.mid").write_bytes(song_bytes(number))
    return time.perf_counter() - start


def _spin(_: int) -> None:
    total = 0
    for i in range(3_000_000):
        total += i * i


def cpu_ceiling(workers: int) -> float:
    """How many times one process's pure-Python speed `workers` processes get together on this machine, now."""
    context = multiprocessing.get_context("fork")
    rates = []
    for processes in (1, workers):
        with context.Pool(processes) as pool:
            start = time.perf_counter()
            pool.map(_spin, range(4 * processes))
            rates.append(4 * processes / (time.perf_counter() - start))
    return rates[1] / rates[0]


def run_child(folders: list[Path], cache: Path, workers: int, limit: int) -> dict[str, Any]:
    """Prepare and index a collection in a child under an address-space `limit`; its report and peak RSS."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps([str(f) for f in folders]), str(cache), str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)),
    )
    _, status, usage = os.wait4(process.pid, 0)
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = process.stdout.read(), process.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {"code": code, "wall_s": time.perf_counter() - start, "peak_rss": usage.ru_maxrss * 1024}
    if code == 0:
        result.update(json.loads(stdout.strip().splitlines()[-1]))
        result["files_per_s"] = result["encoded"] / result["prepare_s"]
    else:
        result["error"] = " | ".join(stderr.strip().splitlines()[-3:])[-400:]
    return result


def _mb(value: float) -> str:
    return f"{value / 1e6:,.0f} MB"


def main() -> None:
    """Write the collections, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,20000,50000", help="collection sizes, multiples of 1000")
    parser.add_argument("--workers", type=int, default=default_workers(), help="encoding processes (default: cores)")
    parser.add_argument("--limit_gb", type=float, default=8.0, help="address-space limit of each child")
    parser.add_argument("--budget_s", type=float, default=600.0, help="skip sizes that would end the run later")
    parser.add_argument("--work", default=None, help="where to write the songs (default: a temporary folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    limit, workers, began = int(args.limit_gb * GB), args.workers, time.perf_counter()
    work = Path(args.work or tempfile.mkdtemp(prefix="data_scale_midi_"))
    songs = work / "songs"
    written = write_songs(songs, sizes[0] // PER_FOLDER)

    def folders(files: int) -> list[Path]:
        return [songs / f"part{p:03d}" for p in range(files // PER_FOLDER)]

    lines = [
        f"Data scale (MIDI): random piano songs of {NOTES} notes, distinct content; window 256, stride 128; "
        f"each child under a {args.limit_gb:g} GB address-space limit; {workers} encoding processes on "
        f"{os.cpu_count()} cores",
    ]
    print(lines[0], flush=True)
    ceilings = [cpu_ceiling(workers)]
    singles = [run_child(folders(sizes[0]), work / "cache-single-0", 1, limit)]
    print(f"  one process, {sizes[0]:,} files: {singles[0].get('files_per_s', float('nan')):,.0f} files/s", flush=True)
    rows: list[dict[str, Any]] = []
    skipped: list[int] = []
    write_s_per_file = written / sizes[0]
    for size in sizes:
        # Projected: writing the new songs, then encoding all of them at the last rate (plus a margin).
        rate = rows[-1].get("files_per_s", 0.0) if rows else singles[0].get("files_per_s", 0.0)
        new_files = size - (rows[-1]["size"] if rows else sizes[0])
        projected = new_files * write_s_per_file + size / max(rate, 1.0) * 1.3
        if rows and time.perf_counter() - began + projected > args.budget_s:
            skipped.append(size)
            continue
        write_songs(songs, size // PER_FOLDER)
        row = {"size": size, **run_child(folders(size), work / f"cache-{size}", workers, limit)}
        rows.append(row)
        print(
            f"  {size:,} files: {row.get('files_per_s', float('nan')):,.0f} files/s, peak RSS {_mb(row['peak_rss'])}",
            flush=True,
        )
    # The one-process rate and the machine's headroom again, after: the bar takes the faster one-process rate.
    singles.append(run_child(folders(sizes[0]), work / "cache-single-1", 1, limit))
    ceilings.append(cpu_ceiling(workers))
    single = max(singles, key=lambda r: r.get("files_per_s", 0.0))
    largest = rows[-1]
    added = {}
    if largest["code"] == 0:  # 100 new files beside the largest collection's, then the same child again
        extra = songs / "part000"
        for i in range(ADDED):
            (extra / f"added{i:03d}.mid").write_bytes(song_bytes(10_000_000 + i))
        added = run_child(folders(largest["size"]), work / f"cache-{largest['size']}", workers, limit)
    shutil.rmtree(work, ignore_errors=True)

    failures = [f"{r['size']:,} files: exit {r['code']} ({r.get('error')})" for r in [*rows] if r["code"] != 0]
    failures += [f"one-process run: exit {r['code']} ({r.get('error')})" for r in singles if r["code"] != 0]
    lines.append(
        f"  {'files':>7} {'processes':>11} {'files/s':>9} {'prep s':>7} {'index s':>8} {'peak RSS':>9} "
        f"{'windows':>10} {'index':>8} {'shards':>6}"
    )
    measured = [(f"1 ({when})", sizes[0], r) for when, r in zip(("before", "after"), singles)]
    for label, size, r in [*measured[:1], *((str(workers), r["size"], r) for r in rows), *measured[1:]]:
        if r["code"] == 0:
            lines.append(
                f"  {size:>7,} {label:>11} {r['files_per_s']:>9,.0f} {r['prepare_s']:>7.1f} {r['index_s']:>8.2f} "
                f"{_mb(r['peak_rss']):>9} {r['windows']:>10,} {_mb(r['index_bytes']):>8} {r['shards']:>6}"
            )
    data: dict[str, Any] = {
        "workers": workers,
        "singles": singles,
        "cpu_ceiling": ceilings,
        "rows": rows,
        "added": added,
        "skipped": skipped,
    }
    if not failures:
        base, top = rows[0], largest
        bar_rate = RATE_SHARE * single["files_per_s"] * workers
        rate_ratio = top["files_per_s"] / (single["files_per_s"] * workers)
        rss_ratio = top["peak_rss"] / base["peak_rss"]
        data.update(rate_ratio=rate_ratio, rate_met=rate_ratio >= RATE_SHARE, rss_ratio=rss_ratio)
        data["rss_met"] = rss_ratio <= RSS_RATIO
        lines += [
            f"  encoding, {top['size']:,} files with {workers} processes: {top['files_per_s']:,.0f} files/s = "
            f"{rate_ratio:.2f}x one process's {single['files_per_s']:,.0f} files/s x {workers} "
            f"(bar >= {RATE_SHARE}x, {bar_rate:,.0f} files/s): {'MET' if data['rate_met'] else 'NOT MET'}",
            f"  peak RSS of preparation + window index, {top['size']:,} vs {base['size']:,} files: "
            f"{_mb(top['peak_rss'])} / {_mb(base['peak_rss'])} = {rss_ratio:.2f}x (bar <= {RSS_RATIO}x): "
            f"{'MET' if data['rss_met'] else 'NOT MET'}",
        ]
        lines.append(
            f"  context: {workers} processes of pure Python ran {ceilings[0]:.2f}x / {ceilings[1]:.2f}x one "
            f"process's speed on this machine before / after (what any parallel work could get here then)"
        )
        if added.get("code") == 0:
            lines.append(
                f"  adding {ADDED} files to the {top['size']:,}: {added['prepare_s']:.1f} s to prepare "
                f"({added['encoded']} encoded, {added['files']:,} files), {added['index_s']:.2f} s to index"
            )
        else:
            failures.append(f"incremental add: exit {added.get('code')} ({added.get('error')})")
    if skipped:
        lines.append(f"  NOT MEASURED: {', '.join(f'{s:,}' for s in skipped)} files (would pass {args.budget_s:.0f} s)")
    lines += [f"  FAILED: {line}" for line in failures]
    data["failures"] = failures
    report("data_scale_midi", lines, data)


if __name__ == "__main__":
    main()
