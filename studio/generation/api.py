"""The Python API: load a checkpoint once, then generate text or MIDI, or tag audio.

```python
from studio.generation import Generator

gen = Generator.from_checkpoint("checkpoints/<run>/last.ckpt")
texts = gen.text(prompt="The ", length=200, num_samples=2, temperature=0.8, seed=1)
```

The `studio sample` and `studio tag` commands and the training sample loggers generate through these
functions, so
the same seed and settings give the same output everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np

from studio.codecs.midi import MidiCodec
from studio.codecs.midi.controls import control_vector
from studio.codecs.speech import SpeechCodec, read_audio
from studio.codecs.text import TextCodec
from studio.errors import StudioError
from studio.generation.beam_search import BeamSettings
from studio.generation.decoding import Progress
from studio.generation.loading import LoadedCheckpoint, load_for_inference
from studio.generation.midi import DEFAULT_SECONDS, Piece, primer_ids, sample_pieces
from studio.generation.sampling import SamplingSettings
from studio.generation.tagging import Span, tag_audio
from studio.generation.text import DEFAULT_LENGTH, sample_text

PathLike = Union[str, "os.PathLike[str]"]


class Generator:
    """A checkpoint loaded for inference: `text`, `midi` or `tag`, whichever its task is."""

    def __init__(self, loaded: LoadedCheckpoint) -> None:
        self.loaded = loaded

    @classmethod
    def from_checkpoint(cls, path: PathLike, device: str = "cpu", task: Optional[str] = None) -> Generator:
        """Load `path` (a `.ckpt` written by `studio fit`) onto `device`; it needs no config and no data.

        `task` ("language_model" or "tagger"), when given, is the task the checkpoint must have.
        """
        return cls(load_for_inference(str(path), task, device))

    @property
    def kind(self) -> str:
        """What the checkpoint makes: "text", "midi" or "speech" (a tagger)."""
        return str(self.loaded.codec.kind) if self.loaded.codec is not None else "unknown"

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self.loaded.path

    def _codec(self, kind: str, method: str, hint: str) -> object:
        if self.kind != kind:
            raise StudioError(f"{self.path} is a {self.kind} checkpoint: `{method}` needs a {kind} one; {hint}")
        return self.loaded.codec

    def text(
        self,
        prompt: Optional[str] = None,
        length: int = DEFAULT_LENGTH,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        progress: Optional[Progress] = None,
    ) -> list[str]:
        """`num_samples` continuations of `prompt` (default: a newline), each `length` tokens, prompt included.

        `progress(fraction, tokens)` hears how far it is; Ctrl-C raises `GenerationInterrupted` with the texts so far.
        """
        codec = self._codec("text", "text", "use `midi` for MIDI checkpoints, `tag` for taggers")
        assert isinstance(codec, TextCodec)
        settings = SamplingSettings(temperature, top_k, top_p)
        return sample_text(self.loaded.model, codec, prompt, length, num_samples, settings, seed, progress)

    def midi(
        self,
        seconds: Optional[float] = None,
        length: Optional[int] = None,
        num_samples: int = 1,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
        primer: Union[PathLike, Sequence[int], None] = None,
        max_note_seconds: float = 5.0,
        notes_per_second: Optional[float] = None,
        pitch_class_histogram: Optional[Sequence[float]] = None,
        beam: BeamSettings = BeamSettings(),
        progress: Optional[Progress] = None,
    ) -> list[Piece]:
        """`num_samples` pieces of `seconds` (default 30) or `length` events, primer included.

        `primer` is a `.mid` path or event ids to begin with; `notes_per_second` and
        `pitch_class_histogram` (12 weights, C to B) steer a model trained with those controls.
        `progress` and Ctrl-C behave as in `text`.
        """
        codec = self._codec("midi", "midi", "use `text` for text checkpoints, `tag` for taggers")
        assert isinstance(codec, MidiCodec)
        settings = SamplingSettings(temperature, top_k, top_p)
        if seconds is None and length is None:
            seconds = DEFAULT_SECONDS
        if primer is None or isinstance(primer, (str, os.PathLike)):
            primer = primer_ids(codec, None if primer is None else str(primer))
        try:
            controls = control_vector(codec.controls, notes_per_second, pitch_class_histogram)
        except StudioError as error:
            raise StudioError(f"{self.path}: {error}") from None
        return sample_pieces(
            self.loaded.model,
            codec,
            num_samples,
            settings,
            seed,
            seconds,
            length,
            list(primer),
            max_note_seconds,
            controls if codec.controls else None,
            beam,
            progress,
        )

    def tag(
        self, audio: Union[PathLike, np.ndarray], sample_rate: Optional[int] = None, beam_width: int = 1
    ) -> list[Span]:
        """Labels with start and end seconds for a clip: a path to an audio file, or samples at `sample_rate`."""
        codec = self._codec("speech", "tag", "use `text` or `midi` for language models")
        assert isinstance(codec, SpeechCodec)
        if beam_width < 1:
            raise StudioError(f"--beam_width {beam_width} must be >= 1")
        if isinstance(audio, np.ndarray):
            if sample_rate is None or sample_rate <= 0:
                raise StudioError("audio given as samples needs its sample_rate (Hz)")
            samples, sr = audio, sample_rate
        else:
            samples, sr = read_audio(str(audio))
        return tag_audio(self.loaded.model, codec, samples, sr, beam_width)
