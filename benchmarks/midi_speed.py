"""MIDI speed: encoding throughput against a baseline tokenizer, the encode cache, and batched sampling.

    python benchmarks/midi_speed.py [--files 60] [--threads 1] [--rounds 5] [--ckpt bach-chorales]

Every ratio compares two arms measured in this run on the same files or the same model.
(1) Encoding, files/s: our MidiCodec (parse + events) against MidiTok's MIDILike tokenizer on the same
    files (`make bench` installs it; without it the benchmark stops and says so, it measures no easier
    baseline instead). Bar: at least the baseline's speed. Then `encode_files` cold (parse, encode, write the cache) against warm (read
    the cache, no parsing). Bar: warm >= 10x cold.
(2) Sampling 16 pieces of 30 s with the MIDI grammar: one batch of 16 against 16 batches of one,
    in generated events per second, over --rounds fresh draws of pieces. Bar: median round >= 10x.
    The model is configs/midi/quickstart.yaml trained here as shipped (a few minutes; the chorales are
    converted once into the Studio cache), or --ckpt. Both arms run with --threads intra-op threads
    (default 1): one token's work is too small to split, and on a machine whose cores are busy,
    multi-threaded steps wait on each other (up to 20x slower, seen on 2 cores). The report also
    prints each round's ceiling (a batch steps until its longest piece ends) and what one model step
    for 16 rows costs against one for a single row, the two things that bound the ratio.
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

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
LINES: list[str] = []

from midi_models import quickstart_model  # noqa: E402
from timing import report  # noqa: E402

from datamodules.midi_sources import encode_files, music21_corpus_files  # noqa: E402
from studio.codecs.midi import MidiCodec  # noqa: E402
from studio.generation.midi import sample_pieces  # noqa: E402
from studio.generation.sampling import SamplingSettings  # noqa: E402
from studio.models import RecurrentLanguageModel  # noqa: E402


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def files_per_second(work, files: list[Path], repeats: int = 3) -> float:
    """Median over repeats of len(files) / seconds to run work(file) on each file."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for f in files:
            work(f)
        rates.append(len(files) / (time.perf_counter() - start))
    return statistics.median(rates)


def baseline_tokenizer():
    """(name, function of a path): MidiTok's MIDILike; the benchmark stops with the reason when it is missing."""
    try:
        import miditok
    except ImportError:
        sys.exit(
            "midi_speed: MidiTok, the baseline, is not installed: `make bench` (pip install -e '.[bench]') installs it"
        )
    tokenizer = miditok.MIDILike()
    return f"MidiTok {metadata.version('miditok')} MIDILike", lambda f: tokenizer(f)


def encoding_benchmark(files: list[Path]) -> dict:
    """Measure (1): codec vs baseline, and the cached pass vs the first pass."""
    codec = MidiCodec()
    name, baseline = baseline_tokenizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi's and MidiTok's chatter about odd meta events
        base = files_per_second(baseline, files)
        ours = files_per_second(codec.encode_file, files)
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            encode_files(files, codec, cache)
            cold = time.perf_counter() - start
            warm = min(_timed(lambda: encode_files(files, codec, cache)) for _ in range(3))
    ratio = ours / base
    result = {
        "baseline": name,
        "baseline_files_per_s": base,
        "ours_files_per_s": ours,
        "ratio": ratio,
        "cold_files_per_s": len(files) / cold,
        "warm_files_per_s": len(files) / warm,
        "cache_speedup": cold / warm,
    }
    LINES.append(f"(1) encoding {len(files)} Bach chorales (MIDI), files/s")
    LINES.append(f"    baseline: {name:<52} {base:8.1f}")
    LINES.append(
        f"    ours: MidiCodec.encode_file (parse + events)             {ours:8.1f}   ratio {ratio:.2f}x  "
        f"bar >= 1x: {_verdict(ratio >= 1.0)}"
    )
    LINES.append(f"    encode_files, cold (parse, encode, write cache)          {len(files) / cold:8.1f}")
    LINES.append(
        f"    encode_files, warm (cache only, no parsing)              {len(files) / warm:8.1f}   speed-up "
        f"{cold / warm:.1f}x  bar >= 10x: {_verdict(cold / warm >= 10)}"
    )
    return result


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_cost_ratio(model: RecurrentLanguageModel, codec: MidiCodec, rows: int, repeats: int = 300) -> float:
    """Time of one model step (no sampling, no grammar) for `rows` rows over its time for one row."""
    device = next(model.parameters()).device

    def per_step(batch: int) -> float:
        token = torch.full((batch, 1), codec.bos_id, dtype=torch.long, device=device)
        _, state = model(token)
        for _ in range(20):
            model(token, state)
        _synchronize(device)
        start = time.perf_counter()
        for _ in range(repeats):
            model(token, state)
        _synchronize(device)
        return time.perf_counter() - start

    return per_step(rows) / per_step(1)


def sampling_round(model: RecurrentLanguageModel, codec: MidiCodec, pieces: int, seconds: float, seed: int) -> dict:
    """One batch of `pieces` and `pieces` batches of one (other seeds), timed back to back."""
    settings = SamplingSettings(temperature=1.0)
    start = time.perf_counter()
    together = sample_pieces(model, codec, pieces, settings, seed=seed, seconds=seconds)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    alone = [
        sample_pieces(model, codec, 1, settings, seed=seed * pieces + i + 1000, seconds=seconds)[0]
        for i in range(pieces)
    ]
    serial_s = time.perf_counter() - start
    together_events = [len(p.ids) for p in together]
    alone_events = sum(len(p.ids) for p in alone)
    batched_rate, serial_rate = sum(together_events) / batched_s, alone_events / serial_s
    return {
        "seed": seed,
        "batched_events_per_s": batched_rate,
        "serial_events_per_s": serial_rate,
        "ratio": batched_rate / serial_rate,
        "longest_events": max(together_events),
        "mean_events": statistics.mean(together_events),
        "ceiling": sum(together_events) / max(together_events),
        "batched_ms_per_step": batched_s / max(together_events) * 1e3,
        "serial_ms_per_step": serial_s / alone_events * 1e3,
        "events_per_music_second": statistics.mean(len(p.ids) / p.seconds for p in together + alone),
        "shortest_s": min(p.seconds for p in together + alone),
        "longest_s": max(p.seconds for p in together + alone),
    }


def sampling_benchmark(
    model: RecurrentLanguageModel, codec: MidiCodec, about: str, pieces: int, seconds: float, rounds: int
) -> dict:
    """Measure (2) over `rounds` rounds (each a fresh draw of pieces); the verdict is on the median round."""
    sample_pieces(model, codec, 2, SamplingSettings(), seed=99, seconds=2.0)  # warm-up: first-call allocations
    results = [sampling_round(model, codec, pieces, seconds, seed) for seed in range(rounds)]
    step_ratio = step_cost_ratio(model, codec, pieces)
    median = statistics.median(r["ratio"] for r in results)
    LINES.append(f"(2) sampling {pieces} pieces of {seconds:g} s, {rounds} rounds (model: {about})")
    LINES.append(
        f"    pieces last {min(r['shortest_s'] for r in results):.2f}..{max(r['longest_s'] for r in results):.2f} s; "
        f"{statistics.mean(r['events_per_music_second'] for r in results):.0f} events per second of music "
        "(the chorales hold about 20)"
    )
    LINES.append(
        f"    round  one at a time       together          ratio   ceiling = {pieces} x mean / longest (events)"
    )
    for r in results:
        LINES.append(
            f"    {r['seed']:>5}  {r['serial_events_per_s']:6.0f} ev/s {r['serial_ms_per_step']:.2f} ms"
            f"  {r['batched_events_per_s']:6.0f} ev/s {r['batched_ms_per_step']:.2f} ms"
            f"  {r['ratio']:5.1f}x  {r['ceiling']:5.1f}x ({r['mean_events']:.0f} / {r['longest_events']})"
        )
    LINES.append(f"    median ratio {median:.1f}x  bar >= 10x: {_verdict(median >= 10)}")
    LINES.append(
        f"    bounds: the batch steps until its longest piece ends, so at most the ceiling's share of its "
        f"{pieces} rows is useful work; one model step for {pieces} rows costs {step_ratio:.1f}x a step for one"
    )
    if next(model.parameters()).device.type == "cpu":
        LINES.append(
            "    (on a CPU core the batch's matrix products run at the core's arithmetic limit; one row's do not)"
        )
    return {"median_ratio": median, "model_step_cost_ratio": step_ratio, "rounds": results}


def main() -> None:
    """Run both benchmarks and print their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=60, help="chorales to encode (converted once into the Studio cache)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sampling arms")
    parser.add_argument("--ckpt", default=None, help="sample from this MIDI checkpoint instead")
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--device", default="cpu", help="where to sample: cpu, cuda or cuda:N (training stays on the CPU)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="fresh draws of pieces; the verdict is on the median")
    args = parser.parse_args()
    LINES.append(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads for encoding and training; "
        "every ratio is measured in this run"
    )
    files = music21_corpus_files("bach_chorales", limit=args.files)
    encoding = encoding_benchmark(files)
    model, codec, about = quickstart_model(args.ckpt)
    torch.set_num_threads(args.threads)
    where = f"{args.threads} torch thread(s)" if args.device == "cpu" else args.device
    with torch.inference_mode():
        sampling = sampling_benchmark(
            model.to(args.device), codec, f"{about}; {where}", args.pieces, args.seconds, args.rounds
        )
    report(
        "midi_speed" if args.device == "cpu" else "midi_speed_cuda", LINES, {"encoding": encoding, "sampling": sampling}
    )


if __name__ == "__main__":
    main()
