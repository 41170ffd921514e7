"""The task registry: every task Studio serves, registered here and nowhere else.

A checkpoint stores its task's name; `task_of` reads it (and the names earlier checkpoints stored),
`task_for` finds the task a model and codec make, and `TASKS` lists them all for the command line,
the server and the page.
"""

from __future__ import annotations

from typing import Any, Optional

from studio.errors import StudioError
from studio.generation.tasks.classification import CLASSIFICATION, ClassifyRequest
from studio.generation.tasks.midi import MIDI, MidiRequest
from studio.generation.tasks.record import Task
from studio.generation.tasks.speech_tagging import SPEECH_TAGGING, SpeechTagRequest
from studio.generation.tasks.text import TEXT, TextRequest
from studio.generation.tasks.text_tagging import TEXT_TAGGING, TextTagRequest

TASKS: dict[str, Task] = {task.name: task for task in (TEXT, MIDI, SPEECH_TAGGING, CLASSIFICATION, TEXT_TAGGING)}

# Checkpoint format 1 stored the model's role and left the task to the codec: (role, codec kind) -> task.
FORMAT_1_TASKS = {
    ("language_model", "text"): "text",
    ("language_model", "midi"): "midi",
    ("tagger", "speech"): "speech_tagging",
}


def find_task(name: str) -> Task:
    """The task called `name` (or by one of its old names); StudioError naming the ones there are."""
    for task in TASKS.values():
        if name == task.name or name in task.old_names:
            return task
    raise StudioError(f"unknown task {name!r}: Studio's tasks are {', '.join(TASKS)}")


def task_of(meta: dict[str, Any], path: str) -> Task:
    """The task of a checkpoint's `studio` entry (any format); StudioError for one this Studio cannot run."""
    name = meta.get("task")
    codec = meta.get("codec") or {}
    kind = codec.get("kind") if isinstance(codec, dict) else None
    known = TASKS.get(str(name)) or TASKS.get(FORMAT_1_TASKS.get((str(name), str(kind)), ""))
    if known is None:
        raise StudioError(f"{path} is a {name!r} checkpoint, which this Studio cannot run: upgrade Studio")
    if kind is not None and kind not in known.codec_kinds:
        raise StudioError(
            f"{path} says it is a {known.name} checkpoint but holds a {kind!r} codec: it is damaged or from another tool"
        )
    return known


# Output folders written before settings.json named their task: the task whose files they hold.
FOLDER_SUFFIXES = ((".mid", "midi"), (".txt", "text"), (".phn", "speech_tagging"))


def task_of_folder(settings: dict[str, Any], names: list[str]) -> Optional[Task]:
    """The task that wrote a generation folder (its settings.json says; older folders by their files)."""
    named = settings.get("task")
    if isinstance(named, str):
        try:
            return find_task(named)
        except StudioError:
            return None
    for suffix, task in FOLDER_SUFFIXES:
        if any(name.endswith(suffix) for name in names):
            return TASKS[task]
    return None


def task_for(model: Any, codec_kind: Any) -> Task:
    """The task a model class and codec kind make (what `studio fit` writes into checkpoints)."""
    for task in TASKS.values():
        if isinstance(model, task.net) and codec_kind in task.codec_kinds:
            return task
    raise StudioError(
        f"{type(model).__name__} on {codec_kind!r} data is not a task Studio knows: "
        f"pair the model with a data module of its task ({', '.join(TASKS)})"
    )


def tasks_with(attribute: str, value: str) -> list[Task]:
    """The tasks whose `attribute` (method, command) is `value`."""
    return [task for task in TASKS.values() if getattr(task, attribute) == value]


__all__ = [
    "TASKS",
    "ClassifyRequest",
    "MidiRequest",
    "SpeechTagRequest",
    "Task",
    "TextRequest",
    "TextTagRequest",
    "find_task",
    "task_for",
    "task_of",
    "task_of_folder",
    "tasks_with",
]
