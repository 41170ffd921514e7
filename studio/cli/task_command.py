"""`studio sample`, `studio tag` and `studio classify`: one command shell over the task records.

Each command serves the tasks whose record names it: its flags are their request settings (declared
once, in `studio.generation.tasks`), its positional inputs are what those tasks read (audio, texts). It
loads the checkpoint, builds the request from the flags given, runs the task, prints what the task
shows, and saves the results and a `settings.json` under `OUT_DIR/<run>/<time>-seed<seed>/`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from studio.cli.common import OneLineParser, resolve_device
from studio.cli.progress import ProgressBar
from studio.errors import StudioError
from studio.generation.outputs import SampleFolder
from studio.generation.requests import Option, build_request, options
from studio.generation.saving import save_results
from studio.generation.tasks import Task, tasks_with

DESCRIPTIONS = {
    "sample": "Generate text or MIDI from a Studio checkpoint.",
    "tag": "Label audio files (speech taggers) or the words of texts (text taggers) with a Studio checkpoint.",
    "classify": "Classify texts or audio clips with a Studio classification checkpoint.",
}
INPUT_HELP = {
    "tag": "audio files (WAV, FLAC, ...) for speech taggers; text files (a sentence per line), a .jsonl/.csv "
    "manifest or - (stdin) for text taggers",
    "classify": "text files (each one text), a .jsonl/.csv manifest with a text field, - (a text per line on "
    "stdin), or audio files for audio classifiers",
}


def build_parser(command: str) -> argparse.ArgumentParser:
    """The flags of `studio <command>`: checkpoint, outputs, device, and every setting of the command's tasks."""
    tasks = tasks_with("command", command)
    parser = OneLineParser(prog=f"studio {command}", description=DESCRIPTIONS[command])
    if command in INPUT_HELP:
        parser.add_argument("inputs", nargs="+", metavar="INPUT", help=INPUT_HELP[command])
    parser.add_argument(
        "--ckpt", required=True, help="checkpoint written by `studio fit`, e.g. checkpoints/<run>/last.ckpt"
    )
    seen: dict[str, list[tuple[Task, Option]]] = {}
    for task in tasks:
        for option in options(task.request):
            seen.setdefault(option.name, []).append((task, option))
    for owners in seen.values():
        _add_option(parser, owners, len(tasks))
    parser.add_argument("--out_dir", default="samples", help="outputs go under OUT_DIR/<run>/")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or cuda:N")
    return parser


def _add_option(parser: argparse.ArgumentParser, owners: list[tuple[Task, Option]], of: int) -> None:
    """One flag for a setting of one or more tasks; the help names the tasks when not all of them have it."""
    option = owners[0][1]
    helps = {o.declared.help for _, o in owners}
    if len(helps) > 1:
        help = "; ".join(f"{t.title}: {o.declared.help}" for t, o in owners)
    else:
        help = ("" if len(owners) == of else f"{'/'.join(t.title for t, _ in owners)}: ") + option.declared.help
    if option.type is bool:
        negate = option.default is True
        parser.add_argument(
            f"--{'no_' if negate else ''}{option.name}",
            dest=option.name,
            action="store_false" if negate else "store_true",
            default=argparse.SUPPRESS,
            help=help.replace(option.declared.help, f"do not {option.declared.help}") if negate else help,
        )
        return
    reader = option.declared.parse or (option.type if option.type in (int, float) else str)
    parser.add_argument(
        f"--{option.name}", type=_argument_type(reader, option.name), default=argparse.SUPPRESS, help=help
    )


def _argument_type(reader: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    def read(text: str) -> Any:
        try:
            return reader(text)
        except (StudioError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error) or f"invalid value {text!r}") from None

    read.__name__ = getattr(reader, "__name__", name)
    return read


def task_command_main(command: str, argv: list[str]) -> None:
    """Parse `argv`, run the checkpoint's task on the request, print and save the results."""
    parser = build_parser(command)
    args = parser.parse_args(argv)
    # The frameworks load only once there is work to do (the flags and --help need none of them).
    from studio.generation import Generator
    from studio.generation.inputs import read_inputs

    ckpt, out_dir, device = args.ckpt, args.out_dir, args.device
    sources = getattr(args, "inputs", [])
    settings = {k: v for k, v in vars(args).items() if k not in ("ckpt", "out_dir", "device", "inputs")}
    generator = Generator.from_checkpoint(ckpt, resolve_device(device))
    task = generator.task
    if task.command != command:
        raise StudioError(
            f"{ckpt} is a {task.name} checkpoint, which `studio {command}` does not take: use `studio {task.command}`"
        )
    _check_flags(ckpt, task, settings)
    request = build_request(task.request, settings)
    # Read every input before writing anything, so a bad file fails the call without partial outputs.
    kind = generator.input_kind
    inputs = read_inputs(kind, sources) if kind != "none" else []
    if kind == "none" and sources:
        raise StudioError(f"{ckpt} is a {task.name} checkpoint: it takes no input files")
    seed = getattr(request, "seed", 0)
    # The folder is made first, so an output folder that cannot be written fails before any work.
    with SampleFolder(out_dir, generator.path, seed) as folder:
        results, interrupted = _interruptible(lambda bar: generator.run(request, inputs, bar), task.unit)
        paths = save_results(
            folder,
            task,
            results,
            request,
            ckpt=ckpt,
            out_dir=out_dir,
            device=device,
            interrupted=interrupted,
            inputs=list(sources),
        )
        for line in task.show(results, paths):
            print(line)
    rendered = f", rendered with {'/'.join(sorted(folder.renderers))}" if folder.renderers else ""
    if getattr(request, "render", True) is False:
        rendered = " (not rendered)"
    _finish(f"{len(results)} {task.noun}(s)", folder, interrupted, rendered)


def _check_flags(ckpt: str, task: Task, settings: dict[str, Any]) -> None:
    """A flag of another task (given to this checkpoint) is an error naming the tasks it is for."""
    own = {option.name for option in options(task.request)}
    for name in settings:
        if name not in own:
            owners = [
                t.title for t in tasks_with("command", task.command) if name in {o.name for o in options(t.request)}
            ]
            mine = ", ".join(f"--{n}" for n in sorted(own)) or "none"
            raise StudioError(
                f"{ckpt} is a {task.name} checkpoint: --{name} applies to {'/'.join(owners)} checkpoints; "
                f"its settings are {mine}"
            )


def _interruptible(work: Callable[[ProgressBar], list[Any]], unit: str) -> tuple[list[Any], bool]:
    """Run `work` with a progress bar; on Ctrl-C, what it had made so far and True."""
    from studio.generation import GenerationInterrupted

    bar = ProgressBar(unit)
    try:
        return work(bar), False
    except GenerationInterrupted as stop:
        return list(stop.partial), True
    finally:
        bar.close()


def _finish(what: str, folder: SampleFolder, interrupted: bool, note: str = "") -> None:
    """Say where the outputs went; an interrupted generation exits with status 130 after saving them."""
    if interrupted:
        print(
            f"studio: interrupted: wrote {what} generated so far to {folder.path} (marked interrupted)", file=sys.stderr
        )
        sys.exit(130)
    print(f"wrote {what} to {folder.path}{note}", file=sys.stderr)
