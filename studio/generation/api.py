"""The Python API: load a checkpoint once, then generate text or MIDI, tag audio or text, or classify.

```python
from studio.generation import Generator

gen = Generator.from_checkpoint("checkpoints/<run>/last.ckpt")
texts = gen.text(prompt="The ", length=200, num_samples=2, temperature=0.8, seed=1)
```

Every method takes its settings as keywords (the task's request type, see `studio.generation.tasks`),
and `studio sample / tag / classify`, the web studio and the training sample loggers go through the
same task functions, so the same seed and settings give the same output everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from studio.errors import StudioError
from studio.generation.decoding import Progress
from studio.generation.inputs import AudioClip, TextItem, audio_clip, text_items
from studio.generation.loading import LoadedCheckpoint, load_for_inference
from studio.generation.midi import Piece
from studio.generation.requests import build_request
from studio.generation.tagging import Span
from studio.generation.tasks import Task, tasks_with

PathLike = Union[str, "os.PathLike[str]"]


class Generator:
    """A checkpoint loaded for inference: `text`, `midi`, `tag` or `classify`, whichever its task offers."""

    def __init__(self, loaded: LoadedCheckpoint) -> None:
        self.loaded = loaded

    @classmethod
    def from_checkpoint(cls, path: PathLike, device: str = "cpu", task: Optional[str] = None) -> Generator:
        """Load `path` (a `.ckpt` written by `studio fit`) onto `device`; it needs no config and no data.

        `task`, when given, is the task the checkpoint must have (a name from `studio.generation.tasks.TASKS`).
        """
        generator = cls(load_for_inference(str(path), device))
        if task is not None and task not in (generator.task.name, *generator.task.old_names):
            raise StudioError(
                f"{path} is a {generator.task.name} checkpoint, not a {task} one: pass a checkpoint trained for this"
            )
        return generator

    @property
    def task(self) -> Task:
        """The checkpoint's task record."""
        return self.loaded.task

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self.loaded.path

    @property
    def input_kind(self) -> str:
        """What requests to this checkpoint are given: "none", "audio", "documents" or "sentences"."""
        return self.task.input_kind(self.loaded.codec)

    def run(self, request: Any, inputs: Sequence[Any] = (), progress: Optional[Progress] = None) -> list[Any]:
        """The task's results for a request of its type (and its inputs: clips or texts); the one way everything generates.

        `progress(fraction, units)` hears how far it is; Ctrl-C raises `GenerationInterrupted` with the results so far.
        """
        if not isinstance(request, self.task.request):
            raise StudioError(
                f"{self.path} is a {self.task.name} checkpoint: it takes a {self.task.request.__name__}, "
                f"not a {type(request).__name__}"
            )
        return self.task.run(self.loaded, list(inputs), request, progress)

    def request(self, method: str, settings: dict[str, Any]) -> Any:
        """The task's request built from keyword settings, after checking the task offers `method`."""
        if self.task.method != method:
            offering = ", ".join(t.name for t in tasks_with("method", method))
            raise StudioError(
                f"{self.path} is a {self.task.name} checkpoint: `{method}` needs a {offering} one; "
                f"use `{self.task.method}` for this checkpoint"
            )
        return build_request(self.task.request, settings)

    def text(self, *, progress: Optional[Progress] = None, **settings: Any) -> list[str]:
        """Texts that continue `prompt` (default: a newline), each `length` tokens, prompt included.

        Settings: prompt, length, num_samples, temperature, top_k, top_p, seed (see `TextRequest`).
        """
        return self.run(self.request("text", settings), progress=progress)

    def midi(
        self,
        *,
        primer: Union[PathLike, Sequence[int], None] = None,
        progress: Optional[Progress] = None,
        **settings: Any,
    ) -> list[Piece]:
        """Pieces of `seconds` (default 30) or `length` events, primer included.

        `primer` is a `.mid` path (or, for the loops that need it, event ids); `notes_per_second` and
        `pitch_class_histogram` (12 weights, C to B) steer a model trained with those controls. Other
        settings as in `MidiRequest`.
        """
        if primer is not None and not isinstance(primer, (str, os.PathLike)):
            return self._midi_from_ids(list(primer), settings, progress)
        if primer is not None:
            settings["primer"] = str(primer)
        if isinstance(settings.get("pitch_class_histogram"), list):
            settings["pitch_class_histogram"] = tuple(settings["pitch_class_histogram"])
        return self.run(self.request("midi", settings), progress=progress)

    def _midi_from_ids(self, primer: list[int], settings: dict[str, Any], progress: Optional[Progress]) -> list[Piece]:
        from studio.generation.tasks.midi import run_with_primer_ids

        return run_with_primer_ids(self.loaded, self.request("midi", settings), primer, progress)

    def tag(
        self,
        inputs: Union[PathLike, np.ndarray, str, Sequence[Any]],
        *,
        sample_rate: Optional[int] = None,
        progress: Optional[Progress] = None,
        **settings: Any,
    ) -> Any:
        """Labels of audio (speech taggers) or of words (text taggers).

        Speech: one clip (an audio file's path, or samples with `sample_rate`) gives its labels with
        start and end seconds. Text: one text gives its tagged words; a list of texts gives one result each.
        """
        request = self.request("tag", settings)
        if self.input_kind == "audio":
            clip = audio_clip(inputs, sample_rate)  # type: ignore[arg-type]
            spans: list[Span] = self.run(request, [clip], progress)[0].spans
            return spans
        items = text_items(inputs)  # type: ignore[arg-type]
        results = self.run(request, items, progress)
        return results[0] if isinstance(inputs, str) else results

    def classify(
        self,
        inputs: Union[str, PathLike, np.ndarray, Sequence[Any]],
        *,
        sample_rate: Optional[int] = None,
        progress: Optional[Progress] = None,
        **settings: Any,
    ) -> Any:
        """The predicted class and every class's probability for a text (or a list of texts), or an audio clip."""
        request = self.request("classify", settings)
        if self.input_kind == "audio":
            many = isinstance(inputs, (list, tuple))
            clips = [audio_clip(x, sample_rate) for x in (inputs if many else [inputs])]  # type: ignore[arg-type, union-attr]
            results = self.run(request, clips, progress)
            return results if many else results[0]
        items = text_items(inputs)  # type: ignore[arg-type]
        results = self.run(request, items, progress)
        return results[0] if isinstance(inputs, str) else results


__all__ = ["AudioClip", "Generator", "TextItem"]
