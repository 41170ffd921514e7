"""Request settings: one frozen, keyword-only dataclass per task, each option declared once with its help and range.

The `studio sample / tag / classify` flags, the Python API's keyword arguments and the web server's
request bodies are all made from these declarations, and every value is checked when a request is
built (`__post_init__` calls `check_request`), so no front end can hand the generation code a number
it did not expect.

    @dataclass(frozen=True, kw_only=True)
    class EchoRequest:
        times: int = setting(1, "how often", at_least=1, at_most=100)
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar, Union

from studio.errors import StudioError

R = TypeVar("R")
# The seeds a random generator takes (64 bits, signed or not): what any request's seed may be.
SEED_RANGE = (-(2**63), 2**64 - 1)


class SettingTypeError(StudioError):
    """A setting whose value is not of its type at all (a word where a number belongs); servers answer 422."""


@dataclass(frozen=True)
class Declared:
    """What one setting declares besides its default: help, range, and how to read it from text."""

    help: str
    at_least: Optional[float] = None
    above: Optional[float] = None
    at_most: Optional[float] = None
    choices: tuple[str, ...] = ()
    parse: Optional[Callable[[str], Any]] = None
    hint: str = ""
    path: bool = False  # a file on the machine that runs the request: a server takes an upload instead


def setting(
    default: Any,
    help: str,
    *,
    at_least: Optional[float] = None,
    above: Optional[float] = None,
    at_most: Optional[float] = None,
    choices: tuple[str, ...] = (),
    parse: Optional[Callable[[str], Any]] = None,
    hint: str = "",
    path: bool = False,
) -> Any:
    """A request option: its default, one line of help, its range, and (for lists) how to read it from text."""
    declared = Declared(help, at_least, above, at_most, choices, parse, hint, path)
    return field(default=default, metadata={"setting": declared})


@dataclass(frozen=True)
class Option:
    """One setting of a request type, resolved: name, type (None stripped), default, declaration."""

    name: str
    type: Any
    optional: bool
    default: Any
    declared: Declared


_OPTIONS: dict[type, tuple[Option, ...]] = {}


def options(cls: type) -> tuple[Option, ...]:
    """The settings of a request type, in declaration order."""
    if cls not in _OPTIONS:
        hints = typing.get_type_hints(cls)
        found = []
        for f in dataclasses.fields(cls):
            declared = f.metadata.get("setting")
            if declared is None:
                continue
            kind, optional = _strip_optional(hints[f.name])
            found.append(Option(f.name, kind, optional, f.default, declared))
        _OPTIONS[cls] = tuple(found)
    return _OPTIONS[cls]


def option_names(cls: type) -> tuple[str, ...]:
    """The names of a request type's settings."""
    return tuple(option.name for option in options(cls))


def _strip_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return hint, False


def check_request(request: Any) -> None:
    """StudioError in one line for the first setting of `request` out of its type or range."""
    for option in options(type(request)):
        check_value(option, getattr(request, option.name))


def check_value(option: Option, value: Any) -> None:
    """One setting's value against its declaration."""
    flag = f"--{option.name}"
    if value is None:
        if option.optional:
            return
        raise SettingTypeError(f"{flag} needs a value")
    kind = option.type
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingTypeError(f"{flag} {value!r} must be true or false")
        return
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingTypeError(f"{flag} {value!r} must be a whole number")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingTypeError(f"{flag} {value!r} must be a number")
        if not math.isfinite(value):
            raise StudioError(f"{flag} {value!r} must be a finite number{_hint(option)}")
    elif kind is str:
        if not isinstance(value, str):
            raise SettingTypeError(f"{flag} {value!r} must be text")
    elif typing.get_origin(kind) is tuple:
        if not isinstance(value, tuple) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
        ):
            raise SettingTypeError(f"{flag} {value!r} must be a list of finite numbers")
        return
    _check_range(option, value)


def _check_range(option: Option, value: Any) -> None:
    d, flag = option.declared, f"--{option.name}"
    if d.choices and value not in d.choices:
        raise StudioError(f"{flag} {value!r} is not one of {', '.join(d.choices)}{_hint(option)}")
    if isinstance(value, str):
        return
    if d.at_least is not None and value < d.at_least:
        raise StudioError(f"{flag} {value!r} must be >= {_number(d.at_least)}{_range_end(d)}{_hint(option)}")
    if d.above is not None and value <= d.above:
        raise StudioError(f"{flag} {value!r} must be > {_number(d.above)}{_range_end(d)}{_hint(option)}")
    if d.at_most is not None and value > d.at_most:
        raise StudioError(f"{flag} {value!r} must be at most {_number(d.at_most)}{_hint(option)}")


def _range_end(d: Declared) -> str:
    return f" and at most {_number(d.at_most)}" if d.at_most is not None else ""


def _number(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _hint(option: Option) -> str:
    return f" ({option.declared.hint})" if option.declared.hint else ""


def parse_text(option: Option, text: str) -> Any:
    """A setting's value read from text (a command-line word or a form field); SettingTypeError if it is not one."""
    if option.declared.parse is not None:
        try:
            return option.declared.parse(text)
        except StudioError as error:
            raise SettingTypeError(f"--{option.name}: {error}") from None
    kind = option.type
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes", "on")
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        what = "true or false" if kind is bool else "a whole number" if kind is int else "a number"
        raise SettingTypeError(f"--{option.name} {text!r} must be {what}") from None
    return text


def build_request(cls: Callable[..., R], values: Mapping[str, Any], *, from_text: bool = False) -> R:
    """`cls(**values)` with one-line errors for unknown names; `from_text` reads string values as a form sends them."""
    known = {option.name: option for option in options(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise StudioError(f"unknown setting {unknown[0]!r} for this request: use {', '.join(known) or 'no settings'}")
    given = dict(values)
    if from_text:
        for name, value in given.items():
            if isinstance(value, str) and known[name].type is not str:
                given[name] = None if value == "" and known[name].optional else parse_text(known[name], value)
    for name, value in given.items():  # JSON has no tuples: a list of numbers stands for one
        if isinstance(value, list) and typing.get_origin(known[name].type) is tuple:
            given[name] = tuple(value)
    return cls(**given)


def as_plain(request: Any) -> dict[str, Any]:
    """The request's settings as plain data (what `settings.json` records)."""
    return {
        option.name: list(value) if isinstance(value := getattr(request, option.name), tuple) else value
        for option in options(type(request))
    }


def describe(cls: type) -> list[dict[str, Any]]:
    """Each setting as plain data (name, type, default, range, help), for a page to build its form from."""
    described = []
    for option in options(cls):
        d = option.declared
        kind = option.type
        name = kind.__name__ if isinstance(kind, type) else "list"
        default = list(option.default) if isinstance(option.default, tuple) else option.default
        entry: dict[str, Any] = {"name": option.name, "type": name, "default": default, "help": d.help}
        for key in ("at_least", "above", "at_most"):
            if getattr(d, key) is not None:
                entry[key] = getattr(d, key)
        if d.choices:
            entry["choices"] = list(d.choices)
        described.append(entry)
    return described
