"""The one way a data module reports inputs it could not use: counted, the first few named with the reason."""

from __future__ import annotations

import warnings
from typing import Optional

MAX_NAMED = 10


class CorpusWarning(UserWarning):
    """Some inputs of a corpus were skipped (unreadable, unlabelled, too short, ...)."""


def warn_skipped(
    skipped: list[tuple[str, str]], total: int, what: str, stacklevel: int = 3, count: Optional[int] = None
) -> None:
    """One warning that counts the skipped items of `total` (`count`, when only the first few were kept) and
    names the first few with the reason."""
    if not skipped:
        return
    count = len(skipped) if count is None else count
    named = ", ".join(f"{name} ({why})" for name, why in skipped[:MAX_NAMED])
    more = f" and {count - MAX_NAMED} more" if count > MAX_NAMED else ""
    warnings.warn(f"skipped {count} of {total} {what}: {named}{more}", CorpusWarning, stacklevel=stacklevel)
