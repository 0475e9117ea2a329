"""The dict round trip shared by the frozen configs stored in checkpoint metadata."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T", bound="DictRoundTrip")


class DictRoundTrip:
    """Mixin for frozen dataclasses: to_dict() for JSON, from_dict() that names unknown keys."""

    _what = "settings"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown {cls._what}: {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**d)
