"""A fast Standard MIDI File reader that yields the same Score as pretty_midi, without building mido messages.

pretty_midi parses through mido, which builds and validates an object per event; this reader walks the
bytes once and applies pretty_midi's own rules (tempo map from track 0, note pairing, instruments keyed
by program, channel and track, control changes before the first note). It accepts only files it can
read exactly as pretty_midi would: for anything else (SMPTE time, undefined status bytes, malformed
meta events, truncation...) `read_score` returns None and the caller falls back to pretty_midi, whose
result and error messages then apply.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from studio.codecs.midi.score import SUSTAIN_CC, Note, Part, Score

_MAX_TICK = 10_000_000  # pretty_midi's limit: beyond it a file is "likely corrupt"
_MAX_MESSAGE_LENGTH = 1_000_000  # mido's limit on one meta or sysex payload
_DEFAULT_BPM = 120.0
_DRUM_CHANNEL = 9
# Channel-message data lengths by high nibble; everything in 0x80..0xEF is a channel message.
_DATA_LENGTH = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
# Meta events mido decodes with a fixed length (others it would raise on or misread).
_META_LENGTH = {0x20: 1, 0x21: 1, 0x2F: 0, 0x51: 3, 0x58: 4, 0x59: 2}
# Time signatures over 2**6 are left to mido: it refuses some of them (its power-of-two check is done in
# floating point), and real music does not use them.
_MAX_DENOMINATOR_EXPONENT = 6
# The meta types mido knows. It reads any other without its delta time (a later event comes that much
# earlier), so a file holding one is left to mido.
_MIDO_META_TYPES = frozenset([*range(0x00, 0x08), 0x09, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F])
_SET_TEMPO, _TIME_SIGNATURE, _KEY_SIGNATURE, _TEXT, _LYRICS = 0x51, 0x58, 0x59, 0x01, 0x05


class _Unsupported(Exception):
    """This file is not one the fast reader can read exactly like pretty_midi."""


class _Instrument:
    __slots__ = ("bends", "controls", "is_drum", "notes")

    def __init__(self, is_drum: bool, controls: list[tuple[int, int, int]], bends: list[int]) -> None:
        self.is_drum = is_drum
        self.notes: list[tuple[int, int, int, int]] = []  # (start tick, end tick, pitch, velocity)
        self.controls = controls  # (tick, number, value)
        self.bends = bends  # ticks


def read_score(data: bytes) -> Score | None:
    """The Score pretty_midi would read from these bytes, or None if only pretty_midi can tell."""
    try:
        return _read(data)
    except (_Unsupported, IndexError):
        return None


def _read(data: bytes) -> Score:
    if data[:4] != b"MThd":
        raise _Unsupported
    header_size = int.from_bytes(data[4:8], "big")
    if header_size < 6:
        raise _Unsupported
    ntracks = int.from_bytes(data[10:12], "big", signed=True)
    resolution = int.from_bytes(data[12:14], "big", signed=True)
    if ntracks <= 0 or resolution <= 0:
        raise _Unsupported
    position = 8 + header_size
    tracks = []
    for _ in range(ntracks):
        events, position = _read_track(data, position)
        if not events:
            raise _Unsupported  # pretty_midi cannot take the max tick of an empty track
        tracks.append(events)
    max_tick = max(events[-1][0] for events in tracks) + 1
    if max_tick > _MAX_TICK:
        raise _Unsupported
    to_time = _tempo_map(tracks[0], resolution)
    return _score(tracks, to_time)


# An event: (absolute tick, status byte, data bytes (channel messages) or (meta type, payload)).
Event = tuple[int, int, tuple]


def _read_track(data: bytes, position: int) -> tuple[list[Event], int]:
    if data[position : position + 4] != b"MTrk":
        raise _Unsupported
    size = int.from_bytes(data[position + 4 : position + 8], "big")
    if position + 8 + size > len(data):
        raise _Unsupported
    i, end = position + 8, position + 8 + size
    events: list[Event] = []
    tick = 0
    last_status = None
    while i < end:
        byte = data[i]
        if byte < 0x80:  # the usual one-byte delta, read inline
            tick, i = tick + byte, i + 1
        else:
            delta, i = _varlen(data, i)
            tick += delta
        status = data[i]
        i += 1
        if status < 0x80:
            if last_status is None or last_status >= 0xF0:
                raise _Unsupported
            status, i = last_status, i - 1
        if 0x80 <= status < 0xF0:
            last_status = status
            first = data[i]
            if _DATA_LENGTH[status >> 4] == 2:
                second = data[i + 1]
                if (first | second) > 127:
                    raise _Unsupported
                values: tuple[int, ...] = (first, second)
                i += 2
            else:
                if first > 127:
                    raise _Unsupported
                values = (first,)
                i += 1
            events.append((tick, status, values))
        elif status == 0xFF:
            kind = data[i]
            length, i = _varlen(data, i + 1)
            payload = data[i : i + length]
            if len(payload) < length or length > _MAX_MESSAGE_LENGTH:
                raise _Unsupported
            i += length
            _check_meta(kind, payload)
            events.append((tick, status, (kind, payload)))
        elif status in (0xF0, 0xF7):
            last_status = status
            length, i = _varlen(data, i)
            if length > _MAX_MESSAGE_LENGTH:
                raise _Unsupported
            _check_sysex(data[i : i + length])
            i += length
        else:
            raise _Unsupported  # system common / real-time bytes: leave them to mido
    if i != end:
        raise _Unsupported  # mido would read past the chunk's end
    return events, end


def _varlen(data: bytes, i: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[i]
        i += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, i


def _check_sysex(payload: bytes) -> None:
    """A sysex payload mido refuses (a data byte over 127, once its F0 and F7 ends are stripped) is left to it."""
    body = payload[1:] if payload[:1] == b"\xf0" else payload
    body = body[:-1] if body[-1:] == b"\xf7" else body
    if any(byte > 127 for byte in body):
        raise _Unsupported


def _check_meta(kind: int, payload: bytes) -> None:
    if kind not in _MIDO_META_TYPES:
        raise _Unsupported
    expected = _META_LENGTH.get(kind)
    if expected is not None and len(payload) != expected:
        raise _Unsupported
    if kind == 0x00 and len(payload) not in (0, 2):
        raise _Unsupported
    if kind == 0x54 and (len(payload) != 5 or payload[0] >> 5 >= 4):
        raise _Unsupported
    if kind == _SET_TEMPO and int.from_bytes(payload, "big") == 0:
        raise _Unsupported
    if kind == _TIME_SIGNATURE and (payload[0] == 0 or payload[1] > _MAX_DENOMINATOR_EXPONENT):
        raise _Unsupported
    if kind == _KEY_SIGNATURE:
        sharps = payload[0] - 256 if payload[0] > 127 else payload[0]
        if not -7 <= sharps <= 7 or payload[1] not in (0, 1):
            raise _Unsupported


def _tempo_map(track0: list[Event], resolution: int) -> Callable[[int], float]:
    """Tick -> seconds with pretty_midi's arithmetic (tempo changes read from track 0 only)."""
    starts, scales = [0], [60.0 / (_DEFAULT_BPM * resolution)]
    for tick, status, values in track0:
        if status != 0xFF or values[0] != _SET_TEMPO:
            continue
        tempo = int.from_bytes(values[1], "big")
        if tick == 0:
            bpm = 6e7 / tempo
            starts, scales = [0], [60.0 / (bpm * resolution)]
        else:
            scale = 60.0 / ((6e7 / tempo) * resolution)
            if scale != scales[-1]:
                starts.append(tick)
                scales.append(scale)
    origins = [0.0]
    for k in range(1, len(starts)):
        origins.append(origins[-1] + scales[k - 1] * (starts[k] - starts[k - 1]))
    if len(starts) == 1:
        scale = scales[0]
        return lambda tick: 0.0 + scale * tick

    def to_time(tick: int) -> float:
        k = bisect.bisect_right(starts, tick) - 1
        return origins[k] + scales[k] * (tick - starts[k])

    to_time.change_ticks = starts  # type: ignore[attr-defined]
    return to_time


def _score(tracks: list[list[Event]], to_time: Callable[[int], float]) -> Score:
    """pretty_midi's _load_instruments and get_end_time, over parsed events."""
    instruments: dict[tuple[int, int, int], _Instrument] = {}
    stragglers: dict[tuple[int, int], _Instrument] = {}
    meta_ticks: list[int] = list(getattr(to_time, "change_ticks", [0]))

    def instrument(program: int, channel: int, track: int, create: bool) -> _Instrument:
        found = instruments.get((program, channel, track))
        if found is not None:
            return found
        straggler = stragglers.get((channel, track))
        if not create:
            if straggler is None:
                straggler = stragglers[(channel, track)] = _Instrument(False, [], [])
            return straggler
        made = _Instrument(
            channel == _DRUM_CHANNEL, straggler.controls if straggler else [], straggler.bends if straggler else []
        )
        instruments[(program, channel, track)] = made
        return made

    for index, events in enumerate(tracks):
        program = [0] * 16
        open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for tick, status, values in events:
            if status == 0xFF:
                kind = values[0]
                if kind in (_TEXT, _LYRICS) or (index == 0 and kind in (_TIME_SIGNATURE, _KEY_SIGNATURE)):
                    meta_ticks.append(tick)
                continue
            kind, channel = status >> 4, status & 0x0F
            if kind == 0xC:
                program[channel] = values[0]
            elif kind == 0x9 and values[1] > 0:
                open_notes.setdefault((channel, values[0]), []).append((tick, values[1]))
            elif kind == 0x8 or kind == 0x9:
                key = (channel, values[0])
                pending = open_notes.get(key)
                if pending is None:
                    continue
                close = [(start, velocity) for start, velocity in pending if start != tick]
                keep = [(start, velocity) for start, velocity in pending if start == tick]
                for start, velocity in close:
                    instrument(program[channel], channel, index, True).notes.append((start, tick, values[0], velocity))
                if close and keep:
                    open_notes[key] = keep
                else:
                    del open_notes[key]
            elif kind == 0xE:
                instrument(program[channel], channel, index, False).bends.append(tick)
            elif kind == 0xB:
                instrument(program[channel], channel, index, False).controls.append((tick, values[0], values[1]))

    parts, end_times = [], [to_time(t) for t in meta_ticks]
    for made in instruments.values():
        notes: list[Note] = [(to_time(s), to_time(e), pitch, velocity) for s, e, pitch, velocity in made.notes]
        sustain = [(to_time(t), value) for t, number, value in made.controls if number == SUSTAIN_CC]
        parts.append(Part(made.is_drum, notes, sustain))
        end_times += (
            [n[1] for n in notes] + [to_time(t) for t in made.bends] + [to_time(t) for t, _, _ in made.controls]
        )
    return Score(parts, max(end_times))
