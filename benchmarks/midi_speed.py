"""MIDI speed: encoding throughput against a baseline tokenizer, the encode cache, and batched sampling.

    python benchmarks/midi_speed.py [--files 60] [--train_steps 150] [--threads 1] [--ckpt checkpoints/<run>/last.ckpt]

Every ratio compares two arms measured in this run on the same files or the same model.
(1) Encoding, files/s: our MidiCodec (parse + events) against MidiTok's MIDILike tokenizer when
    `miditok` is importable, else against plain pretty_midi parsing of the same files (a floor for
    any pretty_midi-based tokenizer). Bar: at least the baseline's speed. Then `encode_files` cold (parse, encode, write the cache) against warm (read
    the cache, no parsing). Bar: warm >= 10x cold.
(2) Sampling 16 pieces of 30 s with the MIDI grammar: one batch of 16 against 16 batches of one,
    in generated events per second. Bar: >= 10x. The model is the quickstart's shape (2x256 LSTM),
    trained for only --train_steps steps here (or loaded from --ckpt): its events per second of
    music differ from a fully trained model's, which the output says. Both arms run with --threads
    intra-op threads (default 1): one token's work is too small to split, and on a machine whose
    cores are busy, multi-threaded steps wait on each other (up to 20x slower, seen on 2 cores).
"""

from __future__ import annotations

import argparse
from importlib import metadata
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
LINES: list[str] = []

from timing import report  # noqa: E402

from datamodules.midi import MidiDataModule  # noqa: E402
from datamodules.midi_sources import encode_files, music21_corpus_files  # noqa: E402
from studio.codecs.midi import MidiCodec, load_midi  # noqa: E402
from studio.models import RecurrentLanguageModel  # noqa: E402
from studio.sample_midi import sample_pieces  # noqa: E402
from studio.sampling import SamplingSettings  # noqa: E402


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
    """(name, function of a path): MidiTok's MIDILike if installed, else pretty_midi parsing alone."""
    try:
        import miditok
    except ImportError:
        return "pretty_midi parsing only (miditok is not installed)", lambda f: load_midi(f)
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
    result = {"baseline": name, "baseline_files_per_s": base, "ours_files_per_s": ours, "ratio": ratio,
              "cold_files_per_s": len(files) / cold, "warm_files_per_s": len(files) / warm, "cache_speedup": cold / warm}
    LINES.append(f"(1) encoding {len(files)} Bach chorales (MIDI), files/s")
    LINES.append(f"    baseline: {name:<52} {base:8.1f}")
    LINES.append(f"    ours: MidiCodec.encode_file (parse + events)             {ours:8.1f}   ratio {ratio:.2f}x  "
                 f"bar >= 1x: {_verdict(ratio >= 1.0)}")
    LINES.append(f"    encode_files, cold (parse, encode, write cache)          {len(files) / cold:8.1f}")
    LINES.append(f"    encode_files, warm (cache only, no parsing)              {len(files) / warm:8.1f}   speed-up "
                 f"{cold / warm:.1f}x  bar >= 10x: {_verdict(cold / warm >= 10)}")
    return result


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def small_model(ckpt: str | None, steps: int, limit: int) -> tuple[RecurrentLanguageModel, MidiCodec, str]:
    """The quickstart-shaped model: from a checkpoint, or trained here for `steps` steps on chorales."""
    if ckpt:
        from studio.checkpoint import load_for_inference

        loaded = load_for_inference(ckpt, "language_model", "cpu")
        return loaded.model, loaded.codec, f"loaded from {ckpt}"
    torch.manual_seed(0)
    data = MidiDataModule(limit=limit, window=128, stride=128, batch_size=16)
    model = RecurrentLanguageModel(vocab_size=data.codec.vocab_size, embedding_dim=64, hidden_size=256, num_layers=2,
                                   stateful=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.0)
    model.train()
    done, loss = 0, float("nan")
    while done < steps:
        for inputs, targets in data.train_dataloader():
            logits, _ = model(inputs)
            loss_t = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            optimizer.zero_grad()
            loss_t.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
            optimizer.step()
            done, loss = done + 1, loss_t.item()
            if done >= steps:
                break
    return model.eval(), data.codec, f"trained here for only {steps} steps (loss {loss:.2f} nats/event): NOT a finished model"


def sampling_benchmark(model: RecurrentLanguageModel, codec: MidiCodec, about: str, pieces: int, seconds: float) -> dict:
    """Measure (2): one batch of `pieces` against `pieces` batches of one, in events per second."""
    settings = SamplingSettings(temperature=1.0)
    sample_pieces(model, codec, 2, settings, seed=99, seconds=2.0)  # warm-up: first-call allocations
    start = time.perf_counter()
    together = sample_pieces(model, codec, pieces, settings, seed=0, seconds=seconds)
    batched_s = time.perf_counter() - start
    start = time.perf_counter()
    alone = [sample_pieces(model, codec, 1, settings, seed=i, seconds=seconds)[0] for i in range(pieces)]
    serial_s = time.perf_counter() - start
    batched_rate = sum(len(p.ids) for p in together) / batched_s
    serial_rate = sum(len(p.ids) for p in alone) / serial_s
    per_second = statistics.mean(len(p.ids) / p.seconds for p in together + alone)
    lengths = [p.seconds for p in together + alone]
    LINES.append(f"(2) sampling {pieces} pieces of {seconds:g} s (model: {about})")
    LINES.append(f"    pieces last {min(lengths):.2f}..{max(lengths):.2f} s; {per_second:.0f} events per second of music "
                 "(a trained chorale model makes about 20)")
    longest = max(len(p.ids) for p in together)
    mean = statistics.mean(len(p.ids) for p in together)
    LINES.append(f"    one at a time ({pieces} batches of 1)   {serial_rate:9.0f} events/s   {serial_s:6.1f} s   "
                 f"{serial_s / sum(len(p.ids) for p in alone) * 1e3:.2f} ms per step")
    LINES.append(f"    together (1 batch of {pieces})          {batched_rate:9.0f} events/s   {batched_s:6.1f} s   "
                 f"{batched_s / longest * 1e3:.2f} ms per step   ratio {batched_rate / serial_rate:.1f}x  "
                 f"bar >= 10x: {_verdict(batched_rate / serial_rate >= 10)}")
    LINES.append(f"    the batch steps until its longest piece ends ({longest} events; mean {mean:.0f}), so at best "
                 f"{pieces * mean / longest:.1f}x of {pieces} rows' work is useful")
    return {"serial_events_per_s": serial_rate, "batched_events_per_s": batched_rate,
            "ratio": batched_rate / serial_rate, "longest_events": longest, "mean_events": mean}


def main() -> None:
    """Run both benchmarks and print their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=60, help="chorales to encode (converted once into the Studio cache)")
    parser.add_argument("--train_steps", type=int, default=150, help="brief training of the sampling model")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both sampling arms")
    parser.add_argument("--ckpt", default=None, help="sample from this MIDI checkpoint instead")
    parser.add_argument("--pieces", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    LINES.append(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads for encoding and training; "
                 "every ratio is measured in this run")
    files = music21_corpus_files("bach_chorales", limit=args.files)
    encoding = encoding_benchmark(files)
    model, codec, about = small_model(args.ckpt, args.train_steps, limit=args.files)
    torch.set_num_threads(args.threads)
    with torch.inference_mode():
        sampling = sampling_benchmark(model, codec, f"{about}; {args.threads} torch thread(s)", args.pieces, args.seconds)
    report("midi_speed", LINES, {"encoding": encoding, "sampling": sampling})


if __name__ == "__main__":
    main()
