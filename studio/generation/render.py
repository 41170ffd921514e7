"""Listen to and look at MIDI: WAV rendering (FluidSynth or a built-in synth) and piano-roll PNGs."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi
import soundfile as sf

from studio.errors import StudioError
from studio.io import atomic_write_bytes

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)
TAIL_S = 0.5  # most release/reverb kept after the last note when FluidSynth renders
MIN_SECONDS = 0.1
PEAK = 0.89  # about -1 dBFS: loud enough, never clipping after 16-bit rounding
_HARMONICS = np.array([1.0, 0.5, 0.25, 0.12, 0.06])  # a soft, piano-ish spectrum
_ATTACK_S, _DECAY_S, _SUSTAIN, _RELEASE_S = 0.005, 0.25, 0.45, 0.06


def find_soundfont() -> Path | None:
    """The General MIDI soundfont to use: $STUDIO_SOUNDFONT, else a usual system location, else None."""
    env = os.environ.get("STUDIO_SOUNDFONT")
    if env:
        if not Path(env).is_file():
            raise StudioError(f"STUDIO_SOUNDFONT={env} is not a file: point it at a .sf2 soundfont or unset it")
        return Path(env)
    return next((Path(p) for p in SOUNDFONT_CANDIDATES if Path(p).is_file()), None)


def render_wav(
    pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str], sample_rate: int = 22050, backend: str = "auto"
) -> str:
    """Write a 16-bit PCM WAV of pm to path atomically; return the backend used: "fluidsynth" or "builtin".

    backend="auto" uses FluidSynth when its binary and a GM soundfont are present, else the built-in synth.
    """
    if backend not in ("auto", "fluidsynth", "builtin"):
        raise StudioError(f"unknown render backend {backend!r}: use 'auto', 'fluidsynth' or 'builtin'")
    path = Path(path)
    binary = shutil.which("fluidsynth") if backend != "builtin" else None
    soundfont = find_soundfont() if backend != "builtin" else None
    if backend == "fluidsynth" and not (binary and soundfont):
        missing = "the fluidsynth program" if not binary else "a General MIDI soundfont"
        raise StudioError(
            f"cannot render {path.name} with FluidSynth: {missing} is missing; install it, "
            "set STUDIO_SOUNDFONT, or use backend='builtin'"
        )
    audio: np.ndarray | None = None
    used = "builtin"
    if binary and soundfont:
        try:
            audio = _fluidsynth_audio(pm, binary, soundfont, sample_rate)
            used = "fluidsynth"
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            if backend == "fluidsynth":
                raise StudioError(f"FluidSynth failed to render {path.name} ({exc}): try backend='builtin'") from exc
            # In auto mode a broken FluidSynth install should not cost the user their sample.
            warnings.warn(
                f"FluidSynth failed ({exc}); rendering {path.name} with the built-in synthesizer", stacklevel=2
            )
    if audio is None:
        audio = synthesize(pm, sample_rate)
    # Even an empty score gives a short silent file, which every player accepts.
    audio = np.pad(audio, (0, max(0, int(MIN_SECONDS * sample_rate) - len(audio))))
    _write_wav(path, _normalize(audio), sample_rate)
    return used


def _fluidsynth_audio(pm: pretty_midi.PrettyMIDI, binary: str, soundfont: Path, sample_rate: int) -> np.ndarray:
    with tempfile.TemporaryDirectory(prefix="studio-render-") as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        pm.write(str(mid))
        # Float output: no dither or 16-bit rounding before we normalize.
        options = ["-ni", "-q", "-g", "1.0", "-r", str(sample_rate), "-T", "wav", "-O", "float", "-F", str(wav)]
        cmd = [binary, *options, str(soundfont), str(mid)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not wav.is_file():
            raise RuntimeError(f"exit code {done.returncode}: {done.stderr.strip()[:200]}")
        audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
        if rate != sample_rate:
            raise RuntimeError(f"FluidSynth wrote {rate} Hz instead of {sample_rate} Hz")
        return _trim_tail(audio.mean(axis=1), pm.get_end_time(), sample_rate)


def _trim_tail(audio: np.ndarray, end_time: float, sample_rate: int) -> np.ndarray:
    # FluidSynth keeps rendering seconds of reverb after the music; keep at most TAIL_S of it and fade it out.
    end = int(round(end_time * sample_rate))
    limit = min(len(audio), end + int(TAIL_S * sample_rate))
    loud = np.flatnonzero(np.abs(audio[:limit]) > 1e-4)
    stop = max(end, int(loud[-1]) + 1 if loud.size else 0)
    stop = min(stop, limit)
    audio = audio[:stop].copy()
    fade = min(len(audio), int(0.02 * sample_rate))
    if fade:
        audio[-fade:] *= np.linspace(1.0, 0.0, fade)
    return audio


def synthesize(pm: pretty_midi.PrettyMIDI, sample_rate: int = 22050) -> np.ndarray:
    """Mono float audio of pm's pitched notes: additive harmonics under an ADSR envelope, one timbre for
    every instrument. Drums are left out (silent), never played as pitched notes: FluidSynth plays them."""
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes if n.end > n.start]
    end = max((n.end for n in notes), default=0.0)
    audio = np.zeros(int(round(end * sample_rate)), dtype=np.float64)  # exactly as long as the music
    for note in notes:
        first = int(round(note.start * sample_rate))
        last = min(len(audio), int(round(note.end * sample_rate)))
        if last <= first:
            continue
        t = np.arange(last - first) / sample_rate
        freq = 440.0 * 2.0 ** ((note.pitch - 69) / 12.0)
        partials = np.arange(1, len(_HARMONICS) + 1) * freq
        keep = partials < sample_rate / 2  # no aliasing from partials above Nyquist
        wave = np.sin(2 * np.pi * np.outer(t, partials[keep])) @ _HARMONICS[keep]
        audio[first:last] += wave * _envelope(len(t), sample_rate) * (note.velocity / 127.0)
    return audio


def _envelope(n: int, sample_rate: int) -> np.ndarray:
    # Attack, decay to a sustain level, and a release that fits inside the note so notes never click.
    t = np.arange(n) / sample_rate
    attack = np.minimum(t / _ATTACK_S, 1.0)
    decay = _SUSTAIN + (1 - _SUSTAIN) * np.exp(-np.maximum(t - _ATTACK_S, 0.0) / _DECAY_S)
    release_len = min(_RELEASE_S, n / sample_rate / 2)
    remaining = (n - 1 - np.arange(n)) / sample_rate
    release = np.clip(remaining / release_len, 0.0, 1.0) if release_len > 0 else np.ones(n)
    return attack * decay * release


def _normalize(audio: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio * (PEAK / peak) if peak > 0 else audio


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1.0, 1.0).astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    atomic_write_bytes(path, buffer.getvalue())


def render_piano_roll(pm: pretty_midi.PrettyMIDI, path: str | os.PathLike[str], title: str | None = None) -> None:
    """Write a PNG piano roll of pm (time vs pitch, darker = louder) to path atomically.

    A piece of several instruments (or of one that is not the piano) has a colour per instrument, named in
    a legend (its track name, else its General MIDI name), and louder notes more opaque; drums are drawn
    at their General MIDI key numbers.
    """
    # The object-oriented API with the Agg canvas avoids pyplot's global backend and state.
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    notes = [n for inst in pm.instruments for n in inst.notes if n.end > n.start]
    fig = Figure(figsize=(12, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if notes and _is_band(pm):
        _draw_instruments(ax, pm)
    elif notes:
        boxes = [Rectangle((n.start, n.pitch - 0.4), n.end - n.start, 0.8) for n in notes]
        shades = np.array([n.velocity for n in notes], dtype=float)
        # The pale end of "Blues" is cut off so even the quietest notes stay visible.
        cmap = ListedColormap(colormaps["Blues"](np.linspace(0.3, 1.0, 256)))
        roll = PatchCollection(boxes, cmap=cmap, linewidths=0)
        roll.set_array(shades)
        roll.set_clim(0, 127)
        ax.add_collection(roll)
        low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
        ax.set_xlim(0, max(n.end for n in notes))
        ax.set_ylim(low - 2, high + 2)
        fig.colorbar(roll, ax=ax, label="velocity", pad=0.01)
    else:
        ax.text(0.5, 0.5, "no notes", ha="center", va="center", transform=ax.transAxes)
    ax.grid(axis="y", color="0.9", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    atomic_write_bytes(Path(path), buffer.getvalue())


def instrument_name(instrument: pretty_midi.Instrument) -> str:
    """An instrument's General MIDI name (Drums for a kit)."""
    return "Drums" if instrument.is_drum else str(pretty_midi.program_to_instrument_name(instrument.program))


def _is_band(pm: pretty_midi.PrettyMIDI) -> bool:
    # A solo piano keeps the velocity-shaded roll; anything else is drawn by instrument.
    playing = [inst for inst in pm.instruments if inst.notes]
    return len(playing) > 1 or any(inst.is_drum or inst.program != 0 for inst in playing)


def _draw_instruments(ax: Any, pm: pretty_midi.PrettyMIDI) -> None:
    from matplotlib import colormaps
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Patch, Rectangle

    palette = colormaps["tab10" if len(pm.instruments) <= 10 else "tab20"]
    handles = []
    notes = []
    for index, instrument in enumerate(inst for inst in pm.instruments if inst.notes):
        drawn = [n for n in instrument.notes if n.end > n.start]
        if not drawn:
            continue
        notes += drawn
        colour = palette(index % palette.N)
        boxes = [Rectangle((n.start, n.pitch - 0.4), n.end - n.start, 0.8) for n in drawn]
        shades = np.zeros((len(drawn), 4))
        shades[:] = colour
        shades[:, 3] = 0.35 + 0.65 * np.array([n.velocity for n in drawn]) / 127.0  # louder = more opaque
        ax.add_collection(PatchCollection(boxes, facecolors=shades, linewidths=0))
        handles.append(Patch(color=colour, label=instrument.name.strip() or instrument_name(instrument)))
    low, high = min(n.pitch for n in notes), max(n.pitch for n in notes)
    ax.set_xlim(0, max(n.end for n in notes))
    ax.set_ylim(low - 2, high + 2)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
