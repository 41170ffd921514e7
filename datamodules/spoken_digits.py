"""Spoken digits: sequences of one to five digit words said by many synthetic voices (eSpeak NG), with a manifest.

Each speaker is an eSpeak NG voice (an English accent and a voice variant) at its own pitch and speed,
so a speaker held out of training is a voice the model has never heard. The utterances are labelled by
their words ("three one four"), with no times: a CTC tagger learns them. Written once into the cache,
deterministically (the same settings give the same files), and only where `espeak-ng` is installed
(`apt install espeak-ng`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np

from datamodules.generated_folder import build_once, read_marker
from studio.errors import StudioError

# Bump when what is written changes, so an old corpus on disk is rewritten.
GENERATOR_VERSION = 1
MARKER = ".spoken_digits.json"
MANIFEST = "manifest.jsonl"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
INSTALL = "install eSpeak NG (apt install espeak-ng) for the spoken-digits corpus"


def speaker(seed: int, index: int) -> dict[str, object]:
    """The voice, pitch (0-99) and speed (words a minute) of speaker `index`."""
    rng = np.random.default_rng([seed, index])
    return {
        "name": f"S{index:02d}",
        "voice": f"{ACCENTS[index % len(ACCENTS)]}+{VARIANTS[(index * 5) % len(VARIANTS)]}",
        "pitch": int(rng.integers(25, 75)),
        "speed": int(rng.integers(130, 200)),
    }


def utterance(seed: int, index: int, number: int) -> list[str]:
    """The digit words of utterance `number` of speaker `index`."""
    rng = np.random.default_rng([seed, index, number, 1])
    return [DIGITS[int(d)] for d in rng.integers(0, 10, size=int(rng.integers(1, 6)))]


def _say(words: list[str], voice: dict[str, object], path: Path) -> None:
    command = ["espeak-ng", "-v", str(voice["voice"]), "-p", str(voice["pitch"]), "-s", str(voice["speed"])]
    try:
        done = subprocess.run([*command, "-w", str(path), " ".join(words)], capture_output=True, timeout=60)
    except FileNotFoundError:
        raise StudioError(f"espeak-ng is not installed: {INSTALL}") from None
    if done.returncode != 0 or not path.is_file():
        reason = done.stderr.decode(errors="replace").strip().splitlines()[:1] or ["no file written"]
        raise StudioError(f"espeak-ng could not say {' '.join(words)!r} with {voice['voice']} ({reason[0]})")


def _write(folder: Path, params: dict[str, int]) -> None:
    lines = []
    for s in range(params["speakers"]):
        voice = speaker(params["seed"], s)
        (folder / str(voice["name"])).mkdir(parents=True)
        for u in range(params["per_speaker"]):
            words = utterance(params["seed"], s, u)
            audio = Path(str(voice["name"])) / f"U{u:03d}.wav"
            _say(words, voice, folder / audio)
            lines.append(json.dumps({"audio": audio.as_posix(), "labels": words, "speaker": voice["name"]}))
    (folder / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def generate(root: str | Path, speakers: int = 24, per_speaker: int = 40, seed: int = 0) -> Path:
    """Write the corpus under `root` unless it is there already; the path of its manifest."""
    if speakers < 2 or per_speaker < 1:
        raise StudioError("the spoken-digits corpus needs at least 2 speakers and 1 utterance each")
    root = Path(root)
    params = {"version": GENERATOR_VERSION, "speakers": speakers, "per_speaker": per_speaker, "seed": seed}
    if read_marker(root, MARKER) != params and shutil.which("espeak-ng") is None:
        raise StudioError(f"espeak-ng is not installed: {INSTALL}")
    said = f"saying {speakers * per_speaker} digit sequences with {speakers} voices, once: into {root}"
    build_once(root, params, MARKER, lambda folder: _write(folder, params), announce=said)
    return root / MANIFEST
