"""One training run as a command runs it: the process group (one process, or a torchrun rank),
the plan, and the signal handling that turns a first Ctrl-C or SIGTERM into "save, then stop".

The CLI and the Python API both train through this; the caller only shows what it reports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..core.progress import Progress
from . import distributed
from .plan import RunPlan, plan_run, train
from .request import TrainRequest
from .result import TrainResult
from .stopping import GracefulStop


class TrainingSession:
    """`with TrainingSession(device, on_note=print) as s: s.plan(...); result = s.run(on_step=...)`."""

    def __init__(self, device: torch.device, *, on_note: Callable[[str], None] = lambda text: None):
        self.on_note = on_note
        # Under torchrun a Ctrl-C reaches every rank at once, maybe while one still plans: each rank takes it
        # as "stop" from before the process group forms (whose start waits for every rank), so that no rank
        # dies of it and leaves the others in a collective; the loop then agrees to stop and saves.
        self._stop = GracefulStop(data_parallel=True, on_note=on_note).__enter__() if distributed.from_env().active else None
        try:
            self.world, self.device = distributed.start(device)
        except BaseException:
            self._release()
            raise
        self._plan: RunPlan | None = None

    def __enter__(self) -> TrainingSession:
        return self

    def __exit__(self, *exc) -> None:
        self._release()
        distributed.stop()

    def _release(self) -> None:
        if self._stop is not None:
            self._stop.__exit__()
            self._stop = None

    def plan(self, request: TrainRequest, *, on_progress: Progress | None = None) -> RunPlan:
        """`plan_run(request)` for this process; its notes and its one-line description are told."""
        self._plan = plan_run(request, world=self.world, on_progress=on_progress)
        self.on_note(self._plan.recipe_line())
        for line in self._plan.notes:
            self.on_note(f"note: {line}")
        self.on_note(self._plan.describe(self.device))
        return self._plan

    def run(self, *, on_step: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
        """Train the plan. A second Ctrl-C while the first waits for its step raises KeyboardInterrupt;
        `abort_note()` then says what is left on disk."""
        assert self._plan is not None, "plan() first"
        if self._stop is not None:
            return train(self._plan, device=self.device, on_step=on_step, should_stop=self._stop)
        with GracefulStop(data_parallel=self.world.active, on_note=self.on_note) as stop:
            return train(self._plan, device=self.device, on_step=on_step, should_stop=stop)

    def abort_note(self) -> str:
        return self._plan.abort_note() if self._plan is not None else "aborted"
