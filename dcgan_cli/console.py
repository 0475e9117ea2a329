"""What the CLI shows while work runs: a rich progress bar on a terminal, plain lines elsewhere.

Logs, CI and `nohup` get one line per report (training: every --log-every steps; other work:
about every 10%), so progress is visible wherever stderr goes. The library never prints; it
calls the `on_progress` / `on_step` callbacks these objects provide.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
# In a data-parallel run only rank 0 reports; the others stay quiet but for their errors.
_follower = {"rank": None}


def follow(rank: int) -> None:
    """Quiet this process (a rank other than 0): no lines, no bars; errors name the rank."""
    _follower["rank"] = rank


def error_prefix() -> str:
    return f"rank {_follower['rank']}: " if _follower["rank"] is not None else ""


def say(text: str) -> None:
    """One plain line on stdout (no markup: paths may hold brackets)."""
    if _follower["rank"] is None:
        out.print(text, markup=False, soft_wrap=True)


def note(text: str) -> None:
    if _follower["rank"] is None:
        err.print(text, markup=False, soft_wrap=True)


class Reporter:
    """Progress of one piece of work, `update(done, total, info)`; a bar or plain lines."""

    def __init__(self, bar: Progress | None, description: str):
        self.bar, self.description = bar, description
        self.task = bar.add_task(description, total=None, info="") if bar is not None else None
        self._last_tenth = -1
        self._t0 = time.perf_counter()

    def update(self, done: int, total: int | None, info: str = "", *, line: bool | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total, info=info)
            return
        if line is None:  # by default a plain line about every 10%, and at the end
            tenth = int(10 * done / total) if total else 0
            line = tenth != self._last_tenth or done == total
            self._last_tenth = tenth
        if line:
            of = f"/{total}" if total else ""
            elapsed = time.perf_counter() - self._t0
            note(f"{self.description}: {done}{of} ({elapsed:.0f} s){' ' + info if info else ''}")

    def __call__(self, done: int, total: int) -> None:
        self.update(done, total)


@contextmanager
def progress(description: str) -> Iterator[Reporter]:
    if err.is_terminal and _follower["rank"] is None:
        bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=err, transient=False,
        )
        with bar:
            yield Reporter(bar, description)
    else:
        yield Reporter(None, description)


def training_line(s: dict[str, Any]) -> str:
    m = s["metrics"]
    if not m:
        return ""
    return (f"epoch {s['epoch']} loss_d {m['loss_d']:.3f} loss_g {m['loss_g']:.3f} "
            f"D(x) {m['d_x']:.2f} D(G(z)) {m['d_g_z']:.2f} {m['img_per_s']:.0f} img/s")
