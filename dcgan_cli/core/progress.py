"""The one progress protocol of the library: `on_progress(done, total, what="")`.

A long call reports how far it is; `what` names the phase where a call has several (labelling
samples, then training a guide). A callee that has one phase of a caller's several gets
`phase(on_progress, "labelling")`, which fills in the name.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int | None, what: str = "") -> None: ...


def phase(on_progress: Progress | None, what: str) -> Progress | None:
    """`on_progress` with `what` filled in (None stays None)."""
    if on_progress is None:
        return None
    return lambda done, total, _what="": on_progress(done, total, what)
