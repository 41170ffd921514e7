"""Live duet latency: `studio serve` answering phrases over its WebSocket, as the page would, 1, 4 and 16 at once.

Each client connects to `/api/live/bach-chorales` (the bundled MIDI model), plays a phrase of six notes
in real time, and waits for the answer; it measures the time from the end of the pause (its last note
plus the pause it asked for) to the first answer note it receives, over several turns. Per-event step
time is measured in process: the answer's events drawn one by one, divided by their number.
Bars (this 2-core CPU, 4 duets at once): first answer note < 30 ms median and < 100 ms p99.
The server is the real command on 127.0.0.1 with one torch thread. Run: `python benchmarks/live_latency.py`.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

RESULTS = Path(__file__).resolve().parent / "results"
STUDIO = str(Path(sys.executable).with_name("studio"))
TOKEN = "live-bench"
PAUSE = 0.3
TURNS = 8
SESSIONS = (1, 4, 16)
MEDIAN_BAR, P99_BAR = 0.030, 0.100
PHRASE = [(60, 0.00, 0.12), (62, 0.15, 0.27), (64, 0.30, 0.42), (65, 0.45, 0.57), (67, 0.60, 0.80), (72, 0.85, 1.1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def duet(url: str, seed: int, latencies: list[float], errors: list[str]) -> None:
    """One person: TURNS phrases, each answered; the latency of each answer's first note."""
    try:
        with connect(url, open_timeout=30, max_size=2**20) as ws:
            ws.send(json.dumps({"type": "settings", "pause_ms": PAUSE * 1000, "answer_seconds": 2, "seed": seed}))
            began, offset = time.perf_counter(), 0.0
            for _ in range(TURNS):
                base = time.perf_counter() - began + offset
                played_from = time.perf_counter()
                for pitch, start, end in PHRASE:  # in real time, as a person plays
                    for kind, at in (("note_on", start), ("note_off", end)):
                        time.sleep(max(0.0, played_from + at - time.perf_counter()))
                        ws.send(json.dumps({"type": kind, "pitch": pitch, "velocity": 80, "time": base + at}))
                pause_end = time.perf_counter() + PAUSE
                first = None
                while True:
                    message = json.loads(ws.recv(timeout=30))
                    if message["type"] == "notes" and first is None:
                        first = time.perf_counter()
                    elif message["type"] == "answered":
                        break
                    elif message["type"] == "error":
                        raise RuntimeError(message["detail"])
                if first is not None:
                    latencies.append(first - pause_end)
                # The next phrase comes after the answer on the page's clock (the answer is not cut).
                now = time.perf_counter() - began + offset
                offset += max(0.0, message["end"] + 0.1 - now)
    except Exception as error:  # reported, and the bar fails
        errors.append(f"{type(error).__name__}: {error}")


def step_time() -> float:
    """Seconds per answer event, drawn in this process by the same Duet the server uses."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from studio.generation import Generator
    from studio.generation.duet import Duet, DuetSettings

    loaded = Generator.from_checkpoint("bach-chorales").loaded
    events = spent = 0.0
    for seed in range(5):
        session = Duet(loaded.model, loaded.codec, DuetSettings(answer_seconds=10, seed=seed))
        for pitch, start, end in PHRASE:
            session.press(start, pitch, 80)
            session.release(end, pitch)
        begun = time.perf_counter()
        for _ in session.answer(1.5):
            pass
        spent += time.perf_counter() - begun
        events += len(session._answer)
    return spent / max(events, 1)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="studio-live-") as folder:
        work = Path(folder)
        (work / "checkpoints").mkdir()
        port = free_port()
        env = dict(os.environ, OMP_NUM_THREADS="1", STUDIO_CACHE=str(work / "cache"))
        with open(work / "serve.log", "w") as log:  # the child keeps its own copy of the descriptor
            server = subprocess.Popen(
                [STUDIO, "serve", "--port", str(port), "--token", TOKEN], cwd=work, env=env, stdout=log, stderr=log
            )
        try:
            deadline = time.monotonic() + 60
            while not listening(port):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"studio serve did not start: {(work / 'serve.log').read_text()[-2000:]}")
                time.sleep(0.1)
            url = f"ws://127.0.0.1:{port}/api/live/bach-chorales?token={TOKEN}"
            warm: list[str] = []
            duet(url, 0, [], warm)  # loads the model once
            if warm:
                raise SystemExit(f"a first duet failed: {warm[0]}")
            rows, data, met = [], {"sessions": {}}, True
            for count in SESSIONS:
                latencies: list[float] = []
                errors: list[str] = []
                threads = [threading.Thread(target=duet, args=(url, i, latencies, errors)) for i in range(count)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                if errors or not latencies:
                    raise SystemExit(f"{count} duets: {errors[:3] or 'no answer'}")
                median, p99 = statistics.median(latencies), percentile(latencies, 99)
                held = count == 4
                ok = median < MEDIAN_BAR and p99 < P99_BAR
                met &= ok or not held
                data["sessions"][count] = {"answers": len(latencies), "median_s": median, "p99_s": p99, "held": held}
                verdict = ("MET" if ok else "NOT MET") if held else "reported"
                rows.append(
                    f"  {count:>2} duet(s) at once: first answer note {median * 1000:6.1f} ms median, "
                    f"{p99 * 1000:6.1f} ms p99 over {len(latencies)} answers  {verdict}"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    per_event = step_time()
    data["step_seconds_per_event"] = per_event
    data["bars"] = {"median_s": MEDIAN_BAR, "p99_s": P99_BAR, "met": met}
    lines = [
        f"Live duet over `studio serve`'s WebSocket (bach-chorales, pause {PAUSE * 1000:.0f} ms, {TURNS} turns each; "
        f"bars with 4 duets: median < {MEDIAN_BAR * 1000:.0f} ms, p99 < {P99_BAR * 1000:.0f} ms)",
        *rows,
        f"  per answer event (in process): {per_event * 1e3:.3f} ms",
        f"bars: {'MET' if met else 'NOT MET'}",
    ]
    print("\n".join(lines))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "live_latency.txt").write_text("\n".join(lines) + "\n")
    (RESULTS / "live_latency.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
