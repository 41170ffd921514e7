"""What the `sample` and `tag` commands share: one-line argument errors and the device check."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from studio.errors import StudioError


class OneLineParser(argparse.ArgumentParser):
    """argparse whose usage errors are one line with the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print `studio <cmd>: error: <message>` and exit 2."""
        raise StudioError(f"{message} (see `{self.prog} --help`)")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        """argparse, plus one check it lacks: `--flag=--` must not slip through as an empty list."""
        parsed = super().parse_args(args, namespace)
        for action in self._actions:
            value = getattr(parsed, action.dest, None)
            if isinstance(action, argparse._StoreAction) and action.nargs is None and value == []:
                self.error(f"argument {action.option_strings[0]}: expected one value")
        return parsed


def resolve_device(name: str) -> str:
    """The torch device name to run on; a GPU asked for where there is none is a clear error."""
    import torch  # here, not at the top: a command's --help does not load PyTorch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError(f"--device {name} asked for a GPU but none is available: use --device cpu")
    if not (name == "cpu" or name.startswith("cuda") or name == "mps"):
        raise StudioError(f"--device {name!r} is not a device: use cpu, cuda or cuda:N")
    return name
