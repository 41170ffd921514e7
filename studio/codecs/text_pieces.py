"""Text cut into pieces at safe points: encoding the pieces one by one gives the ids of the whole text.

Both the token store (a corpus prepared for training) and evaluation (a file scored in bounded memory)
read text this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

# A cut is looked for only this far back from a piece's end, so whitespace-only text stays linear.
CUT_WINDOW = 64 * 1024


def safe_cut(text: str) -> int:
    """Where to cut `text` so that no token of the char or byte-level BPE codec spans the cut; 0 if nowhere near the end.

    Just before a line break that follows a non-space character, every pre-token of the byte-level
    BPE pattern has ended and the next one starts afresh, and the codec's special token `<unk>` holds
    no line break: encoding the two sides apart gives the ids of encoding them together.
    """
    floor = max(0, len(text) - CUT_WINDOW)
    position = len(text)
    while position > floor:
        position = max(text.rfind("\n", floor, position), text.rfind("\r", floor, position))
        if position <= 0:
            return 0
        if not text[position - 1].isspace():
            return position
    return 0


def pieces(texts: Iterable[str], size: int) -> Iterator[str]:
    """Re-cut a stream of texts into pieces of about `size` characters that end at safe points (their join is unchanged)."""
    held: list[str] = []
    held_len = 0
    for text in texts:
        held.append(text)
        held_len += len(text)
        while held_len >= size:
            joined = "".join(held)
            # Without a safe point near `size` (no line breaks), cut at `size` to keep memory bounded.
            cut = safe_cut(joined[: size + CUT_WINDOW // 2]) or min(size, len(joined))
            held, held_len = [joined[cut:]], len(joined) - cut
            yield joined[:cut]
    if held_len:
        yield "".join(held)
