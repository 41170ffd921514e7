"""The task record: everything Studio knows about one task, in one place.

A task (text generation, MIDI generation, speech tagging, classification, text tagging) is one `Task`:
its name, network class, codec kind, request settings, how it runs, saves, shows and reads back its
results, and how `studio evaluate` scores it. The command line, the Python API, the web server, the
page and the training callbacks read these records instead of comparing kind strings.

Importing the records is light (no torch): each task module imports what its functions need when they
run, so `studio sample --help` and the server's `/api/tasks` answer without loading a framework.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from studio.generation.decoding import Progress
    from studio.generation.loading import LoadedCheckpoint
    from studio.generation.outputs import SampleFolder


@dataclass(frozen=True)
class Task:
    """One task: what it is, what builds it, what a request holds, and how results are made, kept and scored."""

    name: str
    title: str
    shape: str
    net_path: (
        str  # "module:Class" of the network (a torch module the task's LightningModule extends), imported when needed
    )
    codec_kind: str
    request: type
    method: str
    command: str
    unit: str
    noun: str
    inputs: Callable[[Any], str]  # the codec -> what a request is given: "none", "audio", "documents", "sentences"
    run: Callable[[LoadedCheckpoint, list[Any], Any, Optional[Progress]], list[Any]]
    save: Callable[[SampleFolder, list[Any], Any], list[Path]]
    show: Callable[[list[Any], list[Path]], list[str]]
    read_back: Callable[[Path, list[Path], Callable[[str], str]], dict[str, Any]]
    evaluate: str
    loss_unit: Callable[[Mapping[str, Any], Mapping[str, Any]], str]  # (codec dict, hyper-parameters) -> "nats per ..."
    web_limits: Mapping[str, float] = field(default_factory=dict)
    streams: bool = False
    old_names: tuple[str, ...] = ()
    other_codec_kinds: tuple[str, ...] = ()  # further codecs its models may be trained with (MIDI: several instruments)

    @property
    def codec_kinds(self) -> tuple[str, ...]:
        """Every codec kind a checkpoint of this task may hold."""
        return (self.codec_kind, *self.other_codec_kinds)

    @property
    def net(self) -> type:
        """The task's network: what inference builds, and what its LightningModule extends."""
        module, _, name = self.net_path.partition(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]

    def input_kind(self, codec: Any) -> str:
        """What this checkpoint's requests are given: "none", "audio", "documents" or "sentences"."""
        return self.inputs(codec)

    def as_dict(self) -> dict[str, Any]:
        """What the page needs to know of the task: names, inputs, settings, and whether results stream."""
        from studio.generation.requests import describe

        return {
            "name": self.name,
            "title": self.title,
            "shape": self.shape,
            "method": self.method,
            "command": self.command,
            "streams": self.streams,
            "settings": describe(self.request),
            "limits": dict(self.web_limits),
        }


def no_inputs(codec: Any) -> str:
    """Generation: a request needs no input."""
    return "none"
