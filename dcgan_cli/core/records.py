"""One way to check what comes from a file or a flag: frozen dataclasses whose fields are checked
against their type hints, then against their own range rules.

The run configs (configs.py), a checkpoint's metadata (checkpoint.py) and a data cache's manifest
(data/cache.py) are all Records, so a bad value anywhere is a ConfigError naming the field
(`model.ngf must be a whole number, got 8.5`), never a KeyError or a silent default. A bool is
not a number and 4.0 is not a whole number, as a user would expect of a checkpoint's `step`.
This module imports no torch.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from typing_extensions import Self


class ConfigError(ValueError):
    """A bad value, with the field it belongs to, so callers can name a flag, a TOML key or a file."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def is_int(x: Any) -> bool:
    """A whole number that is not a bool (4.0 is not one)."""
    return isinstance(x, int) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """A finite number that is not a bool, nor an int too large for a float."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(float(x))
    except OverflowError:
        return False


def type_problem(value: Any, hint: Any) -> str | None:
    """Why `value` is not of the annotated type, or None (nested Records are checked by from_dict)."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
        args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return None if isinstance(value, hint) else f"must be an object (a table of settings), got {type(value).__name__}"
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if hint is int:
        return None if is_int(value) else f"must be a whole number, got {value!r}"
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"
        return None if math.isfinite(value) else f"must be a finite number, got {value!r}"
    if hint is str:
        return None if isinstance(value, str) else f"must be text, got {value!r}"
    if origin is list:
        inner = args[0] if args else Any
        ok = isinstance(value, list) and (inner is Any or all(type_problem(v, inner) is None for v in value))
        what = {str: "names", int: "whole numbers", dict: "objects"}.get(inner, "values")
        what = "lists of names" if inner == list[str] else what
        return None if ok else f"must be a list of {what}"
    if origin is dict or hint is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return "must be an object"
        if args and args[1] is float and not all(is_number(v) for v in value.values()):
            return "must map names to finite numbers"
        return None
    return None


class Record:
    """Mixin for frozen dataclasses: type checks, range checks (`_checks`), and a dict round trip.

    `_strict` records refuse keys they do not know (a typo in a TOML file is an error); the others
    ignore them (a checkpoint from a newer version may carry more)."""

    _what = "settings"
    _strict = True

    def _checks(self) -> list[tuple[str, bool, str]]:
        return []

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            problem = type_problem(value, hints[f.name])
            if problem:
                raise ConfigError(f.name, problem)
            if hints[f.name] is float and isinstance(value, int):
                # TOML's `lr = 1` is an int: store what the field means, so metadata reads back equal.
                object.__setattr__(self, f.name, float(value))
        for name, ok, problem in self._checks():
            if not ok:
                raise ConfigError(name, problem)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: Any) -> Self:
        if not isinstance(d, dict):
            raise ConfigError(cls._what, f"must be an object (a table of settings), got {type(d).__name__}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - set(fields), key=str)
        if unknown and cls._strict:
            raise ConfigError(str(unknown[0]), f"is not one of the {cls._what}; known: {', '.join(sorted(fields))}")
        hints = typing.get_type_hints(cls)
        values = {}
        for k, v in d.items():
            if k not in fields:
                continue
            kinds = (hints[k], *typing.get_args(hints[k]))
            nested = next((t for t in kinds if isinstance(t, type) and issubclass(t, Record)), None)
            if nested is not None and v is not None:
                try:
                    v = nested.from_dict(v)
                except ConfigError as e:
                    field = k if e.field == nested._what else f"{k}.{e.field}"
                    raise ConfigError(field, e.problem) from None
            values[k] = v
        missing = [f.name for f in fields.values()
                   if f.name not in values and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(missing[0], "is missing")
        return cls(**values)
