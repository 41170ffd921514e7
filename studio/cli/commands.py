"""The `studio` command: one table of subcommands, and the one place errors become one line and an exit status."""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Callable
from typing import Optional

from studio.errors import StudioError
from studio.io import os_error_line


def _lost_a_peer(error: BaseException) -> bool:
    """Whether `error` is a collective failing because another rank died (gloo or NCCL)."""
    import torch.distributed as dist

    message = str(error)
    backend_error = isinstance(error, getattr(dist, "DistError", ())) or "gloo" in message or "NCCL" in message
    return backend_error and any(s in message for s in ("Connection", "closed", "timed out", "Timeout", "peer"))


def _stopped_by_a_signal(error: BaseException) -> bool:
    """Whether `error` is Lightning's SIGTERMException (a SystemExit; looked up only if Lightning is loaded)."""
    module = sys.modules.get("lightning.pytorch.utilities.exceptions")
    return module is not None and isinstance(error, module.SIGTERMException)


def _disk_full(error: BaseException) -> bool:
    """Whether `error` is torch's way of saying a file could not be written (a full disk, a quota)."""
    message = str(error)
    return isinstance(error, RuntimeError) and ("failed writing file" in message or "No space left" in message)


def error_line(error: BaseException) -> str:
    """The first line of an error's message."""
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


# Known noise from our dependencies that says nothing actionable to a Studio user.
QUIET_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\).*",
    r"Checkpoint directory .* exists and is not empty.*",  # the run's config.yaml is written there first
    # Lightning warns so only while no validation has run; UnvalidatedRunNote says that plainly.
    r"`ModelCheckpoint\(monitor=.*could not find the monitored key.*",
)
# Lines Lightning logs on every run that say nothing about it: the tip that advertises its cloud logger
# (Studio's runs log to W&B and metrics.csv).
QUIET_LOG_LINES = ("try installing [litlogger]",)
LIGHTNING_INFO_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero")


class QuietLines(logging.Filter):
    """Drops log records whose message holds one of QUIET_LOG_LINES."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every other record."""
        message = record.getMessage()
        return not any(line in message for line in QUIET_LOG_LINES)


def run_fit(argv: list[str], from_console: bool) -> None:
    """LightningCLI's subcommands (fit, validate, test), with the old class paths of saved runs still accepted.

    A bare `--help` is answered at once (`studio.cli.fit_help`); `--help --full` is LightningCLI's own.
    """
    from studio.cli.fit_help import FULL_FLAG, quick_help, wants_quick_help

    if wants_quick_help(argv[1:]):
        print(quick_help(argv[0]))
        return
    if FULL_FLAG in argv:
        argv = [a for a in argv if a != FULL_FLAG]
        if from_console:
            sys.argv = [a for a in sys.argv if a != FULL_FLAG]
    from studio.cli.fit import StudioCLI
    from studio.cli.fit_errors import check_config_files
    from studio.cli.legacy import alias_old_class_paths

    check_config_files(argv)
    alias_old_class_paths()
    # From the console LightningCLI reads sys.argv itself (and warns when given both).
    StudioCLI(args=None if from_console else argv)


def run_prepare(argv: list[str], from_console: bool) -> None:
    """`studio prepare`."""
    from studio.cli.prepare import prepare_main

    prepare_main(argv[1:])


def run_task_command(argv: list[str], from_console: bool) -> None:
    """`studio sample`, `studio tag` and `studio classify`: the checkpoint's task, run on a request."""
    from studio.cli.task_command import task_command_main

    task_command_main(argv[0], argv[1:])


def run_serve(argv: list[str], from_console: bool) -> None:
    """`studio serve`."""
    from studio.cli.serve import serve_main

    serve_main(argv[1:])


def run_evaluate(argv: list[str], from_console: bool) -> None:
    """`studio evaluate`."""
    from studio.cli.evaluate import evaluate_main

    evaluate_main(argv[1:])


def run_models(argv: list[str], from_console: bool) -> None:
    """`studio models`."""
    from studio.cli.models import models_main

    models_main(argv[1:])


# The one command table: name -> (what it does, how it runs).
COMMANDS: dict[str, tuple[str, Callable[[list[str], bool], None]]] = {
    "fit": ("train a model from a config (LightningCLI)", run_fit),
    "validate": ("evaluate a checkpoint on the validation split", run_fit),
    "test": ("evaluate a checkpoint on the test split", run_fit),
    "prepare": ("build a config's data store once, ahead of training (e.g. before a multi-node run)", run_prepare),
    "sample": ("generate text or MIDI from a checkpoint", run_task_command),
    "tag": ("label audio files, or the words of texts, with a tagging checkpoint", run_task_command),
    "classify": ("classify texts or audio clips with a classification checkpoint", run_task_command),
    "evaluate": ("held-out likelihood, and generated against real data, with a report", run_evaluate),
    "serve": ("the web studio: generate, listen, and watch training in the browser", run_serve),
    "models": ("the models bundled with Studio, ready to use by name", run_models),
}


def usage() -> str:
    """The command list `studio`, `studio --help` and an unknown command print."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (summary, _) in COMMANDS.items()]
    return "usage: studio COMMAND [options]   (studio COMMAND --help for its options)\n\ncommands:\n" + "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the `studio` console script."""
    from_console = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    for pattern in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    for name in LIGHTNING_INFO_LOGGERS:
        if not any(isinstance(f, QuietLines) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(QuietLines())
    try:
        if not argv or argv[0] in ("-h", "--help"):
            print(usage())
            return
        if argv[0] not in COMMANDS:
            raise StudioError(f"unknown command {argv[0]!r}: use one of {', '.join(COMMANDS)} (see `studio --help`)")
        COMMANDS[argv[0]][1](argv, from_console)
    except StudioError as error:
        print(f"studio: error: {error}", file=sys.stderr)
        sys.exit(StudioError.exit_code)
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as error:  # a read-only folder, a full disk, a vanished file: never a traceback
        print(f"studio: error: {os_error_line(error)}", file=sys.stderr)
        sys.exit(StudioError.exit_code)
    except SystemExit as stop:
        if not _stopped_by_a_signal(stop):
            raise
        print("studio: stopped by a signal after saving last.ckpt; resume with --ckpt_path last", file=sys.stderr)
        sys.exit(143)
    except Exception as error:
        if _disk_full(error):
            print(
                f"studio: error: {error_line(error)}; free disk space, then resume with --ckpt_path last "
                "(the last complete checkpoint is intact)",
                file=sys.stderr,
            )
            sys.exit(StudioError.exit_code)
        if not _lost_a_peer(error):
            raise
        reason = str(error).strip().splitlines()[0][-160:]
        print(
            f"studio: error: another process of this distributed run stopped ({reason}); "
            "the last complete checkpoint is intact: resume with --ckpt_path last",
            file=sys.stderr,
        )
        sys.exit(1)
