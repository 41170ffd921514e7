"""The one way a data module reports inputs it could not use: counted, the first few named with the reason."""

from __future__ import annotations

import warnings

MAX_NAMED = 10


class CorpusWarning(UserWarning):
    """Some inputs of a corpus were skipped (unreadable, unlabelled, too short, ...)."""


def warn_skipped(skipped: list[tuple[str, str]], total: int, what: str, stacklevel: int = 3) -> None:
    """One warning that counts the skipped items of `total` and names the first few with the reason."""
    if not skipped:
        return
    named = ", ".join(f"{name} ({why})" for name, why in skipped[:MAX_NAMED])
    more = f" and {len(skipped) - MAX_NAMED} more" if len(skipped) > MAX_NAMED else ""
    warnings.warn(f"skipped {len(skipped)} of {total} {what}: {named}{more}", CorpusWarning, stacklevel=stacklevel)
