"""Codecs turn data (text, MIDI, audio labels) into ids and back; each one is plain data in a checkpoint."""

from __future__ import annotations

from typing import Any

from studio.errors import StudioError


def codec_from_dict(data: dict[str, Any]) -> Any:
    """Rebuild the codec stored in a checkpoint from its plain-data form."""
    kind = data.get("kind")
    if kind == "text":
        from studio.codecs.text import TextCodec

        return TextCodec.from_dict(data)
    if kind == "midi":
        from studio.codecs.midi import MidiCodec

        return MidiCodec.from_dict(data)
    if kind == "speech":
        from studio.codecs.speech import SpeechCodec

        return SpeechCodec.from_dict(data)
    raise StudioError(f"unknown codec kind {kind!r} in the checkpoint: it was written by another tool or version")
