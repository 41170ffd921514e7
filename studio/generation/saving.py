"""A generation's files, the same whichever front end made it (the command line, the web page or the API).

The task writes its results (`Task.save`), then `settings.json` records the task, the request's settings
and where they came from; it is written last, so a folder that has it is complete.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.generation.outputs import SampleFolder
from studio.generation.requests import as_plain
from studio.generation.tasks import Task


def save_results(folder: SampleFolder, task: Task, results: list[Any], request: Any, **extra: Any) -> list[Path]:
    """Write `results` of `task` into `folder`, then its settings.json (task, settings, `extra`); the task's paths."""
    paths = task.save(folder, results, request)
    folder.write_settings({"task": task.name, **as_plain(request), **extra})
    return paths
