"""The small training loop the tool's helper networks share: the attribute classifier, the guide on z and
the projection encoder each hand it their optimiser, their batches and their loss. (The GAN's own loop,
with its two players, checkpoints and resume, is training/loop.py.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from .progress import Progress


def half_cosine(lr: float, units: int, steps_per_unit: int = 1) -> Callable[[int], float]:
    """step -> learning rate: from lr toward 0 along half a cosine over `units` (epochs, or steps), held constant
    within a unit."""
    return lambda step: lr * (0.5 + 0.5 * math.cos(math.pi * (step // steps_per_unit) / units))


def minimise(opt: torch.optim.Optimizer, batches: Iterable[Any], total: int, loss_of: Callable[[Any], torch.Tensor], *,
             lr_at: Callable[[int], float] | None = None, on_progress: Progress | None = None) -> None:
    """One optimiser step per batch on `loss_of(batch)`; `batches` is read lazily, so a caller that draws both its
    batches and its augmentations from one generator keeps their order. `on_progress` hears (step, total)
    before each step and (total, total) at the end; `lr_at(step)` sets every group's rate when given."""
    for step, batch in enumerate(batches):
        if on_progress is not None:
            on_progress(step, total)
        if lr_at is not None:
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
        loss = loss_of(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if on_progress is not None:
        on_progress(total, total)
