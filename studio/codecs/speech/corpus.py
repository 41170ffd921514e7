"""Reading speech corpora: TIMIT-style folders (audio + `.phn` alignments) and JSONL manifests.

Pure reading, no training: the data module and `studio evaluate` both read corpora through these
functions. Unusable utterances are not fatal: they come back in `CorpusRead.skipped` with the reason,
and the caller says how it reports them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import soundfile

from studio.errors import StudioError

AUDIO_SUFFIXES = (".wav", ".flac")


@dataclass
class Utterance:
    """One recording: its audio file, label sequence, alignment (seconds) if known, and speaker if named."""

    audio: Path
    labels: list[str]
    segments: list[tuple[float, float, str]] | None = None
    speaker: str | None = None

    @property
    def name(self) -> str:
        """A readable id: `speaker/stem` or just the stem."""
        stem = self.audio.name.split(".")[0]
        return f"{self.speaker}/{stem}" if self.speaker else stem


@dataclass
class CorpusRead:
    """What a corpus held: the usable utterances, the skipped ones as (name, why), and how many there were."""

    utterances: list[Utterance] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    total: int = 0


class _Skip(Exception):
    """Internal: this utterance is unusable, for the reason in the message."""


def _audio_info(path: Path) -> tuple[int, int]:
    """(frames, sample rate) from the header only, or _Skip."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError, ValueError, TypeError):
        raise _Skip("unreadable audio") from None
    if info.frames <= 0:
        raise _Skip("empty audio")
    return int(info.frames), int(info.samplerate)


def _utterance_key(path: Path) -> Path:
    # `SA1.WAV.wav` (a converted copy next to the NIST `SA1.WAV`) is the same utterance as `SA1.WAV`.
    name = path.name
    while Path(name).suffix.lower() in AUDIO_SUFFIXES:
        name = name[: -len(Path(name).suffix)]
    return path.with_name(name)


def _find_audio(root: Path) -> list[Path]:
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    # Prefer lowercase `.wav` (usually RIFF) over `.flac`, then over TIMIT's NIST-SPHERE `.WAV`.
    rank = {".wav": 0, ".flac": 1, ".FLAC": 1}
    best: dict[Path, Path] = {}
    for path in found:
        key = _utterance_key(path)
        if key not in best or rank.get(path.suffix, 2) < rank.get(best[key].suffix, 2):
            best[key] = path
    return sorted(best.values())


def _phn_path(audio: Path) -> Path | None:
    for base in (audio.with_suffix(""), _utterance_key(audio)):
        for suffix in (".phn", ".PHN"):
            candidate = base.with_name(base.name + suffix)
            if candidate.is_file():
                return candidate
    return None


def _read_phn(path: Path) -> list[tuple[int, int, str]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        raise _Skip("unreadable .phn file") from None
    rows = []
    for n, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        try:
            start, end = int(fields[0]), int(fields[1])
        except (ValueError, IndexError):
            raise _Skip(f"malformed line {n} in {path.name}") from None
        if len(fields) != 3 or start < 0 or end < start:
            raise _Skip(f"malformed line {n} in {path.name}")
        rows.append((start, end, fields[2]))
    if not rows:
        raise _Skip(f"empty {path.name}")
    return rows


def _read_timit_utterance(audio: Path, root: Path) -> Utterance:
    phn = _phn_path(audio)
    if phn is None:
        raise _Skip("no .phn file")
    rows = _read_phn(phn)
    n_samples, sr = _audio_info(audio)
    if max(end for _, end, _ in rows) > n_samples:
        raise _Skip("labels run past the end of the audio")
    segments = [(start / sr, end / sr, label) for start, end, label in rows]
    speaker = audio.parent.name if audio.parent != root else None
    return Utterance(audio=audio, labels=[label for _, _, label in rows], segments=segments, speaker=speaker)


def read_timit(root: str | Path) -> CorpusRead:
    """Utterances of a TIMIT-style folder (audio + `.phn` alignments; speaker = parent folder), bad ones skipped."""
    root = Path(root)
    if not root.is_dir():
        raise StudioError(
            f"speech corpus folder {root} does not exist; pass the folder holding the .wav and .phn files"
        )
    audio_files = _find_audio(root)
    if not audio_files:
        raise StudioError(
            f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {root}; pass the folder holding the recordings"
        )
    read = CorpusRead(total=len(audio_files))
    for audio in audio_files:
        try:
            read.utterances.append(_read_timit_utterance(audio, root))
        except _Skip as why:
            read.skipped.append((str(audio.relative_to(root)), str(why)))
    if not read.utterances:
        first = f"{read.skipped[0][0]} ({read.skipped[0][1]})"
        raise StudioError(
            f"none of the {len(audio_files)} utterances under {root} is usable (e.g. {first}); fix the .phn files"
        )
    return read


def _parse_manifest_line(line: str, base: Path) -> Utterance:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        raise _Skip("not valid JSON") from None
    if not isinstance(row, dict) or not isinstance(row.get("audio"), str):
        raise _Skip('no "audio" path')
    labels = row.get("labels")
    if isinstance(labels, str):
        labels = labels.split()
    if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
        raise _Skip('"labels" is not a list of strings')
    if not labels:
        raise _Skip("no labels")
    audio = Path(row["audio"])
    audio = audio if audio.is_absolute() else base / audio
    if not audio.is_file():
        raise _Skip(f"audio {row['audio']} not found")
    _audio_info(audio)
    speaker = row.get("speaker")
    return Utterance(audio=audio, labels=labels, speaker=None if speaker in (None, "") else str(speaker))


def read_manifest_lines(path: str | Path) -> CorpusRead:
    """Utterances of a JSONL manifest (`{"audio", "labels", "speaker"?}` per line), bad lines skipped as `line N`."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(f"cannot read manifest {path} ({type(exc).__name__}); pass a UTF-8 JSONL file") from None
    read = CorpusRead()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        read.total += 1
        try:
            read.utterances.append(_parse_manifest_line(line, path.parent))
        except _Skip as why:
            read.skipped.append((f"line {n}", str(why)))
    if not read.utterances:
        detail = f" (e.g. {read.skipped[0][0]}: {read.skipped[0][1]})" if read.skipped else ""
        raise StudioError(f"manifest {path} has no usable lines{detail}; write one JSON object per line")
    return read
