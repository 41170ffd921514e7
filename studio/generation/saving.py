"""The files a generation leaves in its `SampleFolder`, the same whichever front end made it (CLI or web page).

Text: `sample_N.txt`. MIDI: `sample_N.mid`, and its `.wav` and `.png` renderings. Tagging: `<stem>.phn`
(TIMIT's `start_sample end_sample label`) and `<stem>.json`. The caller writes `settings.json` last.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from studio.generation.api import Generator
from studio.generation.midi import Piece
from studio.generation.outputs import SampleFolder
from studio.generation.tagging import Span, phn_text


def save_texts(folder: SampleFolder, texts: list[str]) -> list[Path]:
    """Write each text as sample_N.txt (N from 1)."""
    return [folder.write(f"sample_{i}.txt", text.encode("utf-8")) for i, text in enumerate(texts, 1)]


def save_pieces(folder: SampleFolder, pieces: list[Piece], render: bool = True) -> tuple[list[Path], set[str]]:
    """Write each piece as sample_N.mid (with .wav and .png beside it when `render`); the paths and renderers used."""
    paths: list[Path] = []
    renderers: set[str] = set()
    for i, piece in enumerate(pieces, 1):
        path = folder.write(f"sample_{i}.mid", piece.to_midi())
        if render:
            renderers.add(piece.render_wav(path.with_suffix(".wav")))
            piece.piano_roll(path.with_suffix(".png"), title=f"sample {i}: {piece.seconds:.1f} s, {piece.notes} notes")
        paths.append(path)
    return paths, renderers


def save_tags(
    folder: SampleFolder,
    stem: str,
    audio_name: str,
    sample_rate: int,
    n_samples: int,
    generator: Generator,
    beam_width: int,
    spans: list[Span],
) -> dict[str, Any]:
    """Write `<stem>.phn` and `<stem>.json` for one labelled clip; the JSON record."""
    loss = generator.loaded.model.hparams["loss"]
    decoding = "prefix beam search" if loss == "ctc" and beam_width > 1 else "greedy"
    record = {
        "audio": audio_name,
        "sample_rate": sample_rate,
        "duration_s": n_samples / sample_rate,
        "ckpt": str(generator.path),
        "loss": loss,
        "decoding": decoding,
        "beam_width": beam_width,
        "labels": [{"label": label, "start": start, "end": end} for label, start, end in spans],
    }
    folder.write(f"{stem}.phn", phn_text(spans, sample_rate).encode("utf-8"))
    folder.write(f"{stem}.json", json.dumps(record, indent=2).encode("utf-8"))
    return record
