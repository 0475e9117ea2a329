"""The five ways `dcgan arithmetic` turns an expression into result vectors, one row each: the
function that plans the results and what kind of method it is. Every other module asks this table
(the entry's checks, the result's lines, the figure's layout), never a list of names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .edits import boundary_plan, guided_plan
from .methods import Inputs, Plan, anchored_plan, mean_plan, paper_plan

SeenOf = Callable[[torch.Tensor], torch.Tensor]  # z (B, nz) -> the attribute values G's images of z show (B, A)


@dataclass(frozen=True)
class Method:
    name: str
    plan: Callable[[Inputs, SeenOf], Plan]
    from_anchors: bool  # each result starts from its own anchor: a sample of the first term, or your image
    needs_labels: bool  # moves z by what a guide on z learned from the data set's labels
    summary: str


# In configs.ARITHMETIC_METHODS' order (the first is the default where it can serve; docs/measured.md).
METHODS: dict[str, Method] = {m.name: m for m in (
    Method("guided", guided_plan, from_anchors=True, needs_labels=True,
           summary="each anchor led by a classifier on z to every asked value"),
    Method("anchored", anchored_plan, from_anchors=True, needs_labels=False,
           summary="samples of the first term plus the others' means taken where the anchor is"),
    Method("boundary", boundary_plan, from_anchors=True, needs_labels=True,
           summary="InterFaceGAN's linear boundaries"),
    Method("paper", lambda inp, seen_of: paper_plan(inp), from_anchors=False, needs_labels=False,
           summary="sums of 3-exemplar means (Radford et al.)"),
    Method("mean", lambda inp, seen_of: mean_plan(inp), from_anchors=False, needs_labels=False,
           summary="sums of all matches' means"),
)}
