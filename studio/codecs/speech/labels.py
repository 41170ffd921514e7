"""Label sets for speech tagging: an ordered label list with the CTC blank at 0 and an optional folding map."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from studio.errors import StudioError

BLANK = "<blank>"
# In a folding file, this target means "drop the phone" (TIMIT's glottal stop `q`).
DROP = "-"


class LabelSet:
    """Ordered labels with `<blank>` at index 0 and an optional map folding raw labels onto them."""

    blank: int = 0

    def __init__(self, labels: Iterable[str], folding: Mapping[str, str | None] | None = None) -> None:
        names = list(labels)
        if names and names[0] == BLANK:
            names = names[1:]
        seen: set[str] = set()
        for name in names:
            if not isinstance(name, str) or not name or name.split() != [name]:
                raise StudioError(f"bad label {name!r}: labels must be non-empty strings without spaces")
            if name == BLANK:
                raise StudioError(f"{BLANK} is reserved for the CTC blank at index 0; rename that label")
            if name in seen:
                raise StudioError(f"label {name!r} is listed twice; list each label once")
            seen.add(name)
        self._labels: tuple[str, ...] = (BLANK, *names)
        self._index = {name: i for i, name in enumerate(self._labels)}
        self._folding: dict[str, str | None] = dict(folding or {})
        for raw, target in self._folding.items():
            if target is not None and target not in seen:
                raise StudioError(f"folding map sends {raw!r} to {target!r}, which is not in the label set")

    @property
    def labels(self) -> tuple[str, ...]:
        """All labels, `<blank>` first."""
        return self._labels

    @property
    def folding(self) -> dict[str, str | None]:
        """The raw-label folding map (a copy); empty when labels are used as they are."""
        return dict(self._folding)

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, label: object) -> bool:
        return label in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSet) and self._labels == other._labels and self._folding == other._folding

    def __repr__(self) -> str:
        return f"LabelSet({len(self._labels) - 1} labels + blank, {len(self._folding)} folded)"

    def fold(self, label: str) -> str | None:
        """The label `label` folds to, None if it is dropped; unknown labels raise `StudioError`."""
        if label in self._folding:
            return self._folding[label]
        if label in self._index and label != BLANK:
            return label
        raise self._unknown(label)

    def id_of(self, label: str) -> int | None:
        """Index of `label` after folding, None if folding drops it."""
        folded = self.fold(label)
        return None if folded is None else self._index[folded]

    def encode(self, labels: Sequence[str]) -> list[int]:
        """Indices of `labels` (folded first); labels that fold to nothing are left out."""
        if isinstance(labels, str):
            raise TypeError("encode() takes a list of labels, not a string")
        ids = (self.id_of(label) for label in labels)
        return [i for i in ids if i is not None]

    def decode(self, ids: Iterable[int], strip_blank: bool = False) -> list[str]:
        """Labels of `ids`; with `strip_blank`, blanks are left out."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._labels):
                raise ValueError(f"label id {i} is out of range for {len(self._labels)} labels")
            if not (strip_blank and i == self.blank):
                out.append(self._labels[i])
        return out

    def _unknown(self, label: str) -> StudioError:
        shown = " ".join(self._labels[1:13]) + (" ..." if len(self._labels) > 13 else "")
        return StudioError(
            f"unknown label {label!r} (the label set has: {shown}); add it to the label-set file "
            f"or fold it onto a known label with a folding file such as datamodules/labelsets/timit_61_to_39.txt"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for checkpoints (`torch.load(weights_only=True)`)."""
        return {"kind": "labelset", "labels": list(self._labels), "folding": dict(self._folding)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelSet:
        """Rebuild a label set from `to_dict()` output."""
        if not isinstance(data.get("labels"), list):
            raise StudioError(
                "the stored label set has no 'labels' list: the checkpoint is damaged or from another tool"
            )
        return cls(data["labels"], data.get("folding") or None)

    @classmethod
    def from_file(cls, path: str | Path) -> LabelSet:
        """Read a label-set file: one label per line, `#` comment lines allowed."""
        rows = _read_rows(Path(path))
        bad = [(n, row) for n, row in rows if len(row) != 1]
        if bad:
            n, row = bad[0]
            raise StudioError(f"{path}:{n}: expected one label per line, got {' '.join(row)!r}; fix that line")
        return cls(row[0] for _, row in rows)

    @classmethod
    def from_folding_file(cls, path: str | Path) -> LabelSet:
        """Read a folding file (`raw folded` per line, folded `-` = drop) into the folded label set."""
        path = Path(path)
        folding: dict[str, str | None] = {}
        order: list[str] = []
        for n, row in _read_rows(path):
            if len(row) != 2:
                raise StudioError(
                    f"{path}:{n}: expected `label folded_label` (or `label {DROP}`), got {' '.join(row)!r}"
                )
            raw, target = row
            if raw in folding:
                raise StudioError(f"{path}:{n}: label {raw!r} is listed twice; keep one line for it")
            folding[raw] = None if target == DROP else target
            if target != DROP and target not in order:
                order.append(target)
        if not order:
            raise StudioError(f"folding file {path} has no labels; write one `label folded_label` line per label")
        return cls(order, folding)


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudioError(f"cannot read label file {path} ({type(exc).__name__}); check the path") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        # Only whole-line comments: TIMIT's `h#` label contains a '#'.
        if stripped and not stripped.startswith("#"):
            rows.append((n, stripped.split()))
    return rows
