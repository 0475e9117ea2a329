"""Stopping a training run cleanly: the first Ctrl-C or SIGTERM asks the loop to save a checkpoint
after the current step and stop; a second Ctrl-C aborts without saving.

Under torchrun the launcher passes the terminal's Ctrl-C on to every rank again, so there a
second signal is not a second request: the ranks are already agreeing to stop together.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable


class GracefulStop:
    """A `should_stop` for the training loop, fed by the process's signal handlers while in use."""

    def __init__(self, *, data_parallel: bool = False, on_note: Callable[[str], None] | None = None):
        self.asked = False
        self.data_parallel = data_parallel
        self.on_note = on_note or (lambda text: None)
        self._previous: dict[int, object] = {}

    def __call__(self) -> bool:
        return self.asked

    def handle(self, signum: int, frame=None) -> None:
        if self.asked and self.data_parallel:
            return
        if self.asked:
            self.on_note("second interrupt: aborting without saving")
            raise KeyboardInterrupt
        self.asked = True
        name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        self.on_note(f"stopping ({name}): saving a checkpoint after this step (Ctrl-C again to abort without saving)")

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():  # signals can only be caught there
            self._previous = {s: signal.signal(s, self.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._previous.items():
            # A stopped run has saved and only has to exit: a late Ctrl-C must not kill it mid-exit.
            signal.signal(s, signal.SIG_IGN if self.asked else h)
        self._previous = {}
