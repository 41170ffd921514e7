"""MultitrackCodec's events: notes per instrument slot <-> one id stream with PROGRAM/DRUMS tokens.

A slot is an instrument's index among the codec's instrument tokens (its id is `offset + slot`); the other
ids are MidiCodec's (`EventLayout`). Decoding splits the stream into one MidiCodec stream per slot, so each
instrument's notes come back by MidiCodec's own tolerant rules (events.events_to_notes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.codecs.midi.events import EventLayout
from studio.codecs.midi.performance import StepNote


def _shifts(ids: list[int], gap: int, layout: EventLayout) -> None:
    """Append TIME_SHIFTs covering gap steps (the longest first)."""
    while gap > 0:
        chunk = min(gap, layout.num_shifts)
        ids.append(layout.shift(chunk))
        gap -= chunk


def slots_to_events(slots: dict[int, list[StepNote]], layout: EventLayout, offset: int) -> list[int]:
    """Event ids of quantised notes per slot (slot 0 is current before any instrument token). At each step the
    current instrument goes first, then the others in slot order; within one, NOTE_OFFs before NOTE_ONs (a
    re-struck key is released first); VELOCITY only when the bin changes, whatever the instrument."""
    timeline = []
    for slot, notes in slots.items():
        timeline += [(n.end, slot, 0, n.pitch, 0) for n in notes]
        timeline += [(n.start, slot, 1, n.pitch, n.velocity) for n in notes]
    timeline.sort()
    # Ids by arithmetic on local names: this loop is most of the encoding time.
    bins = [layout.velocity_bin(v) for v in range(128)]
    on, off, first_shift = layout.note_on_offset, layout.note_off_offset, layout.shift_offset - 1
    first_velocity, longest = layout.velocity_offset, layout.num_shifts
    ids: list[int] = []
    now, current, current_bin = 0, 0, -1
    i, count = 0, len(timeline)
    while i < count:
        step, j = timeline[i][0], i + 1
        while j < count and timeline[j][0] == step:
            j += 1
        group = timeline[i:j]
        if j - i > 1 and group[0][1] != current and any(event[1] == current for event in group):
            group = [e for e in group if e[1] == current] + [e for e in group if e[1] != current]
        gap = step - now
        if gap > longest:
            _shifts(ids, gap, layout)
        elif gap > 0:
            ids.append(first_shift + gap)
        now = step
        for _, slot, order, pitch, velocity in group:
            if slot != current:
                ids.append(offset + slot)
                current = slot
            if order == 0:
                ids.append(off + pitch)
                continue
            bin_index = bins[velocity]
            if bin_index != current_bin:
                ids.append(first_velocity + bin_index)
                current_bin = bin_index
            ids.append(on + pitch)
        i = j
    return ids


def events_to_streams(
    ids: Sequence[int] | np.ndarray, layout: EventLayout, offset: int, slots: int
) -> dict[int, list[int]]:
    """Split any ids (up to EOS) into one MidiCodec stream per slot that has note events: its notes, with the
    shifts and velocities before them, all ending at the last step (so notes left sounding close where they
    would in one stream). Ids outside the vocabulary, PAD and BOS are skipped."""
    streams: dict[int, list[int]] = {}
    written: dict[int, tuple[int, int | None]] = {}  # slot -> (step reached, velocity id in force)
    now, current, velocity = 0, 0, None
    for raw in ids:
        token = int(raw)
        kind, value = layout.classify(token)
        if kind == "EOS":
            break
        if kind == "TIME_SHIFT":
            now += value
        elif kind == "VELOCITY":
            velocity = token
        elif kind in ("NOTE_ON", "NOTE_OFF"):
            stream = streams.setdefault(current, [])
            since, in_force = written.get(current, (0, None))
            _shifts(stream, now - since, layout)
            if velocity is not None and velocity != in_force:
                stream.append(velocity)
            stream.append(token)
            written[current] = (now, velocity)
        elif 0 <= token - offset < slots:
            current = token - offset
    for slot, stream in streams.items():
        _shifts(stream, now - written[slot][0], layout)
    return streams
