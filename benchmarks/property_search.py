"""The long random search of the property tests, kept out of the suite so CI never turns red by chance.

The suite draws the same cases every run (a fixed seed) and replays the examples committed under
`tests/hypothesis-examples/`. This script runs the property tests `--rounds` times, each with a fresh
random seed and the "search" profile, which saves every failing example it finds into that folder:
commit the folder (and fix the bug) and the suite replays the case from then on.
Run: `python benchmarks/property_search.py [--rounds 5] [--tests tests/test_midi_file.py ...]`.
Exit status 1 when any round found a failing case.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROPERTY_TESTS = [
    "tests/test_midi_file.py",
    "tests/test_midi_codec.py",
    "tests/test_live_encoder.py",
    "tests/test_multitrack_codec.py",
    "tests/test_multitrack_reader.py",
    "tests/test_multitrack_generation.py",
    "tests/test_fuzz.py",
    "tests/test_bio_spans.py",
    "tests/test_classifier.py",
    "tests/test_evaluate_labels.py",
]
RESULTS = ROOT / "benchmarks" / "results"


def one_round(tests: list[str], seed: int) -> tuple[bool, str]:
    """Run the property tests once with `seed`; (passed, the tail of pytest's report)."""
    env = dict(os.environ, STUDIO_HYPOTHESIS_PROFILE="search", OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-o", "addopts=-ra", f"--hypothesis-seed={seed}", *tests]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    return done.returncode == 0, "\n".join(done.stdout.strip().splitlines()[-15:])


def main() -> int:
    """Search, report, and say what was found."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tests", nargs="+", default=PROPERTY_TESTS)
    args = parser.parse_args()
    seeds = [random.SystemRandom().randrange(2**32) for _ in range(args.rounds)]
    rounds = []
    for number, seed in enumerate(seeds, 1):
        passed, tail = one_round(args.tests, seed)
        rounds.append({"seed": seed, "passed": passed, "report": tail if not passed else tail.splitlines()[-1]})
        print(f"round {number}/{args.rounds} (seed {seed}): {'no failing case' if passed else 'FOUND A FAILING CASE'}")
        if not passed:
            print(tail)
    found = sum(not r["passed"] for r in rounds)
    summary = (
        f"{found} of {args.rounds} rounds found a failing case: the examples are saved under tests/hypothesis-examples/; "
        "commit them with the fix, and the suite replays them"
        if found
        else f"{args.rounds} rounds of random search found no failing case"
    )
    print(summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "property_search.json").write_text(json.dumps({"rounds": rounds, "summary": summary}, indent=2) + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
