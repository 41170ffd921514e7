"""One-line errors for `studio fit / validate / test`: config files, argument parsing and class instantiation.

jsonargparse reports a bad setting as a usage dump or a nested, multi-line explanation; these helpers
turn it into the one line Studio promises, naming the setting (or the file and line) and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn, Optional

import yaml
from lightning.pytorch.cli import LightningArgumentParser

from studio.errors import StudioError

# Lines of a jsonargparse explanation that say nothing a user can act on.
_NOISE = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes:|Errors:|Given value( type)?:|"
    r"- Expected a <class 'NoneType'>|tip: )"
)


def one_line(message: str) -> str:
    """A jsonargparse message folded onto one line without its noise (union subtypes, echoed values)."""
    kept = [line.strip() for line in message.strip().splitlines()]
    kept = [line for line in kept if line and not _NOISE.match(line)]
    return re.sub(r"\s+", " ", " ".join(kept)).strip().rstrip(":")


def studio_error_in(error: BaseException) -> Optional[StudioError]:
    """The StudioError a library wrapped (as cause or context), if any: its message is already the one line to show."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        if isinstance(current, StudioError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def studio_message_in(text: str) -> Optional[str]:
    """A Studio error message quoted inside a library's explanation (our messages start with a flag or a path)."""
    for line in text.splitlines():
        line = line.strip().lstrip("- ").strip()
        if line.startswith("--model.") or line.startswith("--data.") or "must be" in line:
            return line
    return None


def check_config_files(argv: Sequence[str]) -> None:
    """Every `--config FILE` exists and is valid YAML; otherwise one line with the file, line and column."""
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--config="):
            path = arg.split("=", 1)[1]
        else:
            continue
        file = Path(path)
        if not file.is_file():
            raise StudioError(f"--config {path} does not exist: pass a YAML file, e.g. configs/text/quickstart.yaml")
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise StudioError(f"--config {path} is not a text file: pass a YAML file") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise StudioError(f"--config {path}{where}: {problem}; fix the YAML there") from None
        if data is not None and not isinstance(data, dict):
            raise StudioError(f"--config {path} holds a {type(data).__name__}, not a mapping of settings")


def runs_on_cpu(accelerator: object) -> bool:
    """Whether `--trainer.accelerator` puts the run on the CPU (named, or "auto" on a machine without CUDA)."""
    import torch

    return accelerator == "cpu" or (accelerator in (None, "auto") and not torch.cuda.is_available())


def check_cpu_processes(accelerator: object, devices: object) -> None:
    """More CPU processes than cores only thrash and multiply memory: refuse them before any starts."""
    import os

    on_cpu = runs_on_cpu(accelerator)
    try:
        count = int(str(devices))
    except ValueError:
        return  # "auto", a list of device ids, ...: Lightning decides and checks
    cores = os.cpu_count() or 1
    if on_cpu and count > cores:
        raise StudioError(
            f"--trainer.devices {count} asks for {count} CPU processes but this machine has {cores} cores: "
            f"use --trainer.devices {cores} or fewer"
        )


# The data settings that start processes, and what each such process holds of its own at the least once it
# runs (a forked worker's page tables, its Python heap and the pages it touches): a lower bound.
WORKER_SETTINGS = ("num_workers", "encode_workers", "workers")
WORKER_BYTES = 32 * 1024**2


def check_worker_processes(data_settings: Any) -> None:
    """The worker processes the data's settings (a mapping) ask for, estimated against free memory before any starts."""
    import os

    from studio.resources import check_memory

    for name in WORKER_SETTINGS:
        value = data_settings.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            check_memory(
                f"--data.init_args.{name} {value} ({value:,} worker processes)",
                value * WORKER_BYTES,
                f"use --data.init_args.{name} {os.cpu_count() or 1} or fewer",
            )


class OneLineArgumentParser(LightningArgumentParser):
    """LightningCLI's parser whose errors are one line (StudioError) instead of the usage and a nested dump."""

    def error(self, message: str, ex: Optional[Exception] = None) -> NoReturn:
        """Raise the parse error as a StudioError, folded onto one line with a pointer to --help."""
        found = studio_error_in(ex) if ex is not None else None
        if found is not None:
            raise found from None
        quoted = studio_message_in(message)
        if quoted is not None:
            raise StudioError(quoted) from None
        program = (self.prog or "studio").replace("[options] ", "").strip()
        command = program if " " in program else "studio COMMAND"
        raise StudioError(f"{one_line(message)} (see `{command} --help`)") from None


def instantiation_error(error: Exception) -> StudioError:
    """The one line for a class that could not be built from the config (a model or data setting out of range)."""
    found = studio_error_in(error)
    if found is not None:
        return found
    quoted = studio_message_in(str(error))
    if quoted is not None:
        return StudioError(quoted)
    return StudioError(f"the configuration cannot be built: {one_line(str(error))[:400]}")
