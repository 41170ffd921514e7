"""Run `studio` commands one after another in this process and print the peak resident memory after each.

Usage: python memory_probe.py OUT_JSON -- ARGS... [-- ARGS...]. The first command is the baseline. Each
entry of OUT_JSON holds the command's exit status and the process's peak RSS (bytes) once it ended.
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import sys


def peak_rss() -> int:
    """The peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    from studio.cli import main as studio

    out, rest = sys.argv[1], sys.argv[2:]
    commands: list[list[str]] = []
    for word in rest:
        if word == "--":
            commands.append([])
        else:
            commands[-1].append(word)
    results = []
    for args in commands:
        code = 0
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                studio(args)
            except SystemExit as stop:
                code = int(stop.code or 0)
        results.append({"args": args, "code": code, "peak_rss": peak_rss(), "stderr": err.getvalue()[-500:]})
    with open(out, "w") as handle:
        json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
