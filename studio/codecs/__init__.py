"""Codecs turn data (text, MIDI, audio labels) into ids and back; each one is plain data in a checkpoint.

Every codec follows `Codec`: a `kind`, and `to_dict` / `from_dict` to travel inside checkpoints as
plain data. Text and MIDI codecs also `encode` and `decode`; the speech codec turns audio into frames.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar, Protocol, runtime_checkable

from studio.errors import StudioError

# Every codec kind a checkpoint may store, and its class (imported when first needed).
CODECS = {
    "text": "studio.codecs.text:TextCodec",
    "midi": "studio.codecs.midi:MidiCodec",
    "midi_multitrack": "studio.codecs.midi.multitrack:MultitrackCodec",
    "speech": "studio.codecs.speech:SpeechCodec",
    "classes": "studio.codecs.classes:ClassCodec",
    "word_tags": "studio.codecs.word_tags:WordTagCodec",
}
KINDS = tuple(CODECS)


@runtime_checkable
class Codec(Protocol):
    """What every codec offers: its kind, and a plain-data form that rebuilds an identical codec."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (str, int, float, bool, list, dict) that `from_dict` turns back into this codec."""
        ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Codec:
        """Inverse of `to_dict`; StudioError when `data` is malformed."""
        ...


@runtime_checkable
class TokenCodec(Codec, Protocol):
    """A codec of token sequences (text, MIDI events): what a language model reads and writes."""

    @property
    def vocab_size(self) -> int:
        """Number of distinct ids."""
        ...

    def decode(self, ids: Any) -> Any:
        """The data (text, a MIDI score) that `ids` stand for."""
        ...


def codec_class(kind: object) -> type[Codec]:
    """The codec class of a stored `kind`; StudioError for a kind no codec has."""
    path = CODECS.get(kind) if isinstance(kind, str) else None
    if path is None:
        raise StudioError(f"unknown codec kind {kind!r} in the checkpoint: it was written by another tool or version")
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def codec_from_dict(data: dict[str, Any]) -> Codec:
    """Rebuild the codec stored in a checkpoint from its plain-data form; StudioError if it is malformed."""
    if not isinstance(data, dict):
        raise StudioError(f"the stored codec is a {type(data).__name__}, not a mapping: the checkpoint is damaged")
    cls = codec_class(data.get("kind"))
    try:
        return cls.from_dict(data)
    except StudioError:
        raise
    except Exception as error:  # a damaged or foreign codec entry: missing keys, wrong types
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''}"
        raise StudioError(
            f"the stored {data.get('kind')} codec is malformed ({reason}): the checkpoint is damaged "
            "or from another tool; retrain or use an intact checkpoint"
        ) from None
