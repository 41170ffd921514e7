"""Serving many people at once: `studio serve` under 16 concurrent text clients, and a soak of mixed requests.

Bars (issue: web studio):
- 16 clients at once, each asking for a 500-character sample from the text quickstart, against the
  same 16 requests sent one at a time: throughput ratio >= 4x (concurrent requests are batched into
  one generation batch); p50 and p95 latency printed for both.
- A soak of 200 mixed requests (text, MIDI, tagging, and bad ones): no 5xx answer, and the server's
  resident memory after the last request within 1.25x of what it was after the first 50.

The runs are trained briefly here from the quickstart presets (`--steps`): speed does not depend on
what the weights learned. The server is the real command on 127.0.0.1, with one torch thread.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import report

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/studio-bench-serve")
STUDIO = str(Path(sys.executable).with_name("studio"))
CLIENTS, LENGTH, SOAK = 16, 500, 200
RATIO_BAR, MEMORY_BAR = 4.0, 1.25
PRESETS = {
    "text": "configs/text/quickstart.yaml",
    "midi": "configs/midi/quickstart.yaml",
    "tagger": "configs/tagging/quickstart.yaml",
}


def studio(*args: str, cwd: Path) -> None:
    env = dict(
        os.environ, OMP_NUM_THREADS="1", WANDB_MODE="offline", WANDB_SILENT="true", STUDIO_CACHE=str(WORK / "cache")
    )
    subprocess.run([STUDIO, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def train_runs(steps: int) -> None:
    """The three quickstart runs, briefly, under WORK/checkpoints/."""
    for name, preset in PRESETS.items():
        if (WORK / "checkpoints" / name / "last.ckpt").is_file():
            continue
        print(f"training the {name} quickstart for {steps} steps ...", flush=True)
        studio(
            "fit",
            *("--config", str(ROOT / preset), "--run_name", name, "--trainer.max_steps", str(steps)),
            *("--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.max_time", "null"),
            cwd=WORK,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def text_request(client: httpx.Client, seed: int) -> float:
    """One streamed 500-character request; its latency in seconds."""
    body = {"run": "text", "prompt": "The ", "length": LENGTH, "temperature": 0.8, "top_k": 40, "seed": seed}
    start = time.perf_counter()
    with client.stream("POST", "/api/text", json=body) as response:
        last = ""
        for line in response.iter_lines():
            if line.strip():
                last = line
    assert json.loads(last)["event"] == "done", last
    return time.perf_counter() - start


def concurrent(client: httpx.Client, seeds: list[int]) -> tuple[float, list[float]]:
    latencies: list[float] = [0.0] * len(seeds)

    def one(i: int) -> None:
        latencies[i] = text_request(client, seeds[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(seeds))]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def soak_request(client: httpx.Client, rng: random.Random, clip: bytes) -> int:
    """One request of a random kind (a quarter of them bad); its HTTP status."""
    kind = rng.choice(["text", "text", "midi", "tag", "bad-text", "bad-upload", "bad-run", "list"])
    if kind == "text":
        body = {"run": "text", "length": rng.randint(20, 200), "seed": rng.randint(0, 10**6)}
        with client.stream("POST", "/api/text", json=body) as response:
            for _ in response.iter_lines():
                pass
            return response.status_code
    if kind == "midi":
        form = {"run": "midi", "seconds": str(rng.choice([2, 4])), "seed": str(rng.randint(0, 999))}
        return client.post("/api/midi", data=form).status_code
    if kind == "tag":
        return client.post("/api/tag", data={"run": "tagger"}, files={"audio": ("clip.wav", clip)}).status_code
    if kind == "bad-text":
        return client.post("/api/text", json={"run": "text", "temperature": -rng.random()}).status_code
    if kind == "bad-upload":
        return client.post("/api/tag", data={"run": "tagger"}, files={"audio": ("x.wav", os.urandom(512))}).status_code
    if kind == "bad-run":
        return client.get(f"/api/runs/..{rng.randint(0, 9)}/history").status_code
    return client.get("/api/runs").status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="training steps per quickstart run")
    parser.add_argument("--fresh", action="store_true", help="train the runs again")
    args = parser.parse_args()
    if args.fresh:
        shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    train_runs(args.steps)
    shutil.rmtree(WORK / "samples", ignore_errors=True)
    clip = next((WORK / "cache").rglob("*.wav"))  # an utterance of the tagging quickstart's corpus
    port = free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    server = subprocess.Popen(
        [STUDIO, "serve", "--checkpoints", "checkpoints", "--samples", "samples", "--port", str(port)],
        cwd=WORK,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        for _ in range(120):
            try:
                if client.get("/api/runs").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        text_request(client, 0)  # loads the model
        alone_start = time.perf_counter()
        alone = [text_request(client, seed) for seed in range(1, CLIENTS + 1)]
        alone_s = time.perf_counter() - alone_start
        together_s, together = concurrent(client, list(range(1, CLIENTS + 1)))
        ratio = alone_s / together_s
        lines = [
            f"Serving load ({CLIENTS} text clients, {LENGTH} characters each, text quickstart, one torch thread)",
            f"  one at a time: {alone_s:6.2f} s   p50 {percentile(alone, 50):5.2f} s   p95 {percentile(alone, 95):5.2f} s",
            f"  concurrent:    {together_s:6.2f} s   p50 {percentile(together, 50):5.2f} s   p95 {percentile(together, 95):5.2f} s",
            f"  throughput ratio: {ratio:.1f}x (bar >= {RATIO_BAR:.0f}x): {'MET' if ratio >= RATIO_BAR else 'NOT MET'}",
        ]
        print("\n".join(lines), flush=True)
        clip_bytes = clip.read_bytes()
        rng = random.Random(0)
        statuses: dict[int, int] = {}
        memory: dict[int, float] = {}
        for i in range(1, SOAK + 1):
            status = soak_request(client, rng, clip_bytes)
            statuses[status] = statuses.get(status, 0) + 1
            if i % 50 == 0:
                memory[i] = rss_mb(server.pid)
        errors = sum(n for status, n in statuses.items() if status >= 500)
        growth = memory[SOAK] / memory[50]
        lines += [
            f"Soak: {SOAK} mixed requests (text, MIDI, tagging, bad ones): statuses {dict(sorted(statuses.items()))}",
            "  server RSS after 50/100/150/200: " + " / ".join(f"{memory[k]:.0f} MB" for k in sorted(memory)),
            f"  5xx answers: {errors} (bar 0); memory growth {growth:.2f}x (bar <= {MEMORY_BAR}x): "
            + ("MET" if errors == 0 and growth <= MEMORY_BAR else "NOT MET"),
        ]
        print("\n".join(lines[-3:]), flush=True)
        data: dict[str, Any] = {
            "alone_s": alone_s,
            "concurrent_s": together_s,
            "ratio": ratio,
            "latency_alone": alone,
            "latency_concurrent": together,
            "statuses": statuses,
            "rss_mb": memory,
        }
        report("serve_load", lines, data, echo=False)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
