"""Performance RNN's control signals: note density and pitch-class histogram, as inputs beside each event.

Each event gets the controls of the music that starts with it: the note onsets in the window of
`DENSITY_WINDOW_S` (density) or `HISTOGRAM_WINDOW_S` (histogram) seconds from that event's time on,
within its own piece (a BOS starts a new piece). Density is a one-hot bin of notes per second
(edges 1, 2, 4, ... 64, as Magenta); the histogram holds the 12 pitch classes' shares of those
onsets (with a small prior, so an empty window is uniform). A model trained with them is steered at
sampling time by constant values; an all-zero group means "no control" (training drops each group
now and then, so the model also learns to go without it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import numpy as np

from studio.codecs.midi.events import EventLayout
from studio.errors import StudioError

CONTROL_NAMES = ("density", "pitch_histogram")
DENSITY_WINDOW_S = 3.0
DENSITY_EDGES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)  # notes per second; 8 bins
HISTOGRAM_WINDOW_S = 5.0
HISTOGRAM_PRIOR = 0.01
_WIDTHS = {"density": len(DENSITY_EDGES) + 1, "pitch_histogram": 12}
_PIECE_GAP = 1 << 40  # steps put between pieces so that no window reaches into the next one


def check_controls(names: Sequence[str]) -> tuple[str, ...]:
    """The control names in their canonical order; StudioError for an unknown or repeated one."""
    names = tuple(names)
    unknown = [n for n in names if n not in CONTROL_NAMES]
    if unknown or len(set(names)) != len(names):
        raise StudioError(
            f"controls {list(names)} are invalid: choose among {list(CONTROL_NAMES)}, each once, "
            "e.g. --data.init_args.controls '[density, pitch_histogram]'"
        )
    return tuple(n for n in CONTROL_NAMES if n in names)


def control_dim(names: Sequence[str]) -> int:
    """Width of the control vector for these controls."""
    return sum(_WIDTHS[n] for n in names)


def control_slices(names: Sequence[str]) -> dict[str, slice]:
    """Where each control's columns lie in the control vector."""
    slices, at = {}, 0
    for name in names:
        slices[name] = slice(at, at + _WIDTHS[name])
        at += _WIDTHS[name]
    return slices


def density_bin(notes_per_second: float) -> int:
    """The density bin of a rate of note onsets."""
    return int(np.searchsorted(DENSITY_EDGES, notes_per_second, side="right"))


def shift_steps(ids: np.ndarray, layout: EventLayout) -> np.ndarray:
    """The time steps each event moves time on by: a TIME_SHIFT's length, 0 for every other event."""
    is_shift = (ids >= layout.shift_offset) & (ids < layout.shift_offset + layout.num_shifts)
    return np.where(is_shift, ids - layout.shift_offset + 1, 0)


def control_frames(
    ids: Sequence[int] | np.ndarray, layout: EventLayout, step_seconds: float, names: Sequence[str]
) -> np.ndarray:
    """Float32 [len(ids), control_dim]: each event's controls, from the onsets in the window starting at it."""
    ids = np.asarray(ids, dtype=np.int64)
    out = np.zeros((len(ids), control_dim(names)), dtype=np.float32)
    if not len(ids) or not names:
        return out
    steps = shift_steps(ids, layout)
    # Each event's time (in steps) before it acts; a BOS opens a new piece far from the previous one.
    time = np.cumsum(steps) - steps + np.cumsum(ids == layout.bos_id) * _PIECE_GAP
    is_on = (ids >= layout.note_on_offset) & (ids < layout.note_off_offset)
    onset_time = time[is_on]  # non-decreasing, as events are in time order
    onset_class = (ids[is_on] - layout.note_on_offset) % 12
    first = np.searchsorted(onset_time, time, side="left")
    for name, columns in control_slices(names).items():
        window_s = DENSITY_WINDOW_S if name == "density" else HISTOGRAM_WINDOW_S
        last = np.searchsorted(onset_time, time + round(window_s / step_seconds), side="left")
        if name == "density":
            out[
                np.arange(len(ids)),
                columns.start + np.searchsorted(DENSITY_EDGES, (last - first) / window_s, side="right"),
            ] = 1.0
        else:
            counts = np.zeros((len(onset_class) + 1, 12), dtype=np.float64)
            counts[1:][np.arange(len(onset_class)), onset_class] = 1.0
            counts = np.cumsum(counts, axis=0)
            window = counts[last] - counts[first] + HISTOGRAM_PRIOR
            out[:, columns] = window / window.sum(1, keepdims=True)
    return out


def control_vector(
    names: Sequence[str],
    notes_per_second: Optional[float] = None,
    pitch_class_histogram: Optional[Sequence[float]] = None,
) -> np.ndarray:
    """The constant control vector a user asks for; a control left None is all zeros ("no control")."""
    vector = np.zeros(control_dim(names), dtype=np.float32)
    columns = control_slices(names)
    if notes_per_second is not None:
        if "density" not in columns:
            raise StudioError(
                "this model was trained without the note-density control: drop --notes_per_second, "
                "or train with --data.init_args.controls '[density]'"
            )
        if not notes_per_second > 0:
            raise StudioError(f"--notes_per_second {notes_per_second} must be > 0, e.g. --notes_per_second 6")
        vector[columns["density"].start + density_bin(notes_per_second)] = 1.0
    if pitch_class_histogram is not None:
        if "pitch_histogram" not in columns:
            raise StudioError(
                "this model was trained without the pitch-class control: drop --pitch_class_histogram, "
                "or train with --data.init_args.controls '[pitch_histogram]'"
            )
        weights = np.asarray(pitch_class_histogram, dtype=np.float64)
        if weights.shape != (12,) or not np.all(np.isfinite(weights)) or (weights < 0).any() or weights.sum() <= 0:
            raise StudioError(
                "--pitch_class_histogram needs 12 non-negative weights for C, C#, ... B, not all zero, "
                "e.g. '[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]' (C major)"
            )
        vector[columns["pitch_histogram"]] = weights / weights.sum()
    return vector
