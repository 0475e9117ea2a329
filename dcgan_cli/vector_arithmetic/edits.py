"""Arithmetic as an edit of each anchor: the two methods that move z by what a guide on z reads.

Both start where the anchored method does (the first term's most confident samples, or the
anchors given), read what the expression asks of every attribute (the one-hot algebra: the
first term's values, less and plus the later terms' words), and move each anchor until a guide
that sees only z says the asked values hold, keeping the rest. No image classifier is called
here and no gradient of one reaches z: the guides learn from the labelled bank alone (whose
labels the data set's classifier wrote once, before any edit), and the verdict afterwards is a
separate reading of the images.

- boundary (InterFaceGAN, Shen et al. 2020): a linear boundary per attribute value (one against
  the rest, logistic regression on the bank's confident samples). An anchor moves along the
  target value's normal, with the normals of the attributes to keep projected out (for several
  kept attributes, the closed form that leaves each kept score unchanged, as Ramaswamy et al.
  2021 do), until it lies as far past the target's boundary as the bank's typical sample of that
  value does. Linear: it moves what z holds linearly (colour here), little else.
- guided (latent classifiers, after LACE, Nie et al. 2021): a small network on z predicts every
  attribute, trained on the bank; the anchor follows the gradient of its log-probability of the
  asked values for every attribute (moved and kept alike), with a prior term that keeps |z| where
  G was trained and a pull toward the anchor, until every asked value holds with a margin.
  Nonlinear, so it can move what z holds nonlinearly (shape, size).
"""

from __future__ import annotations

import torch
from torch import nn

from ..attributes.bank import SampleBank
from ..attributes.expectations import CONFIDENT, Attribute, Want, expected_values
from ..attributes.zguide import guide_for, read_around, step_up, value_log_probs
from ..core.errors import UsageError
from ..core.model import typical_norm
from .methods import EXEMPLARS, Concept, Inputs, Plan, _anchors, _Matcher, too_few

MARGIN = 0.9  # probability the guide must give every asked value before an edit stops
MAX_EDIT_STEPS = 300


# --- what each anchor should become


def _targets(inp: Inputs, anchor_values: torch.Tensor) -> tuple[list[Want], list[Want]]:
    """Per anchor: the values it starts from (every attribute; `anchor_values` (R, len(attrs)), as the
    bank's labels or the guide read them) and the values asked of the result."""
    if not all(i in inp.own_of for i in range(1, len(inp.terms))):
        raise UsageError("the edit methods need every term in the data set's words (its labels); "
                         "a phrase defined by seeds can only be the first term; or use --method anchored")
    later = [inp.own_of.get(i, {}) for i in range(1, len(inp.terms))]
    coefs = [t.coef for t in inp.terms]
    starts, expected = [], []
    for row in anchor_values:
        start = {a: int(v) for a, v in enumerate(row.tolist())} | inp.own_of.get(0, {})
        starts.append(start)
        expected.append(expected_values(coefs, [start, *later], inp.attrs))
    return starts, expected


def _display(inp: Inputs, plan: Plan, anchors: torch.Tensor) -> None:
    """The figure's columns: the anchors, then each later term's confident samples and their mean."""
    matcher = _Matcher(inp.bank, inp.attrs)
    concepts, exemplars = [Concept(inp.terms[0].phrase, anchors[0], 1, 1.0)], [anchors[:EXEMPLARS]]
    for i, t in enumerate(inp.terms[1:], 1):
        concept, chosen, _ = matcher.concept(t.phrase, inp.own_of.get(i, {}), {})
        if concept.count == 0:
            raise too_few(t.phrase, f"0 of {len(inp.bank.z)}")
        concepts.append(concept)
        exemplars.append(inp.bank.z[chosen[:EXEMPLARS]])
    plan.concepts, plan.exemplars = concepts, exemplars
    plan.term_z = torch.stack([k.z for k in concepts])


def _edit_plan(inp: Inputs, anchors, starts, expected, results, steps, how: str) -> Plan:
    plan = Plan([], [], torch.empty(0), results, anchors, expected=expected, start=starts)
    _display(inp, plan, anchors)
    plan.edit_steps = steps
    plan.prior_norm = typical_norm(inp.cfg)
    plan.notes = [{} for _ in inp.terms]
    plan.notes[0] = {"edit": how}
    return plan


# --- guided: follow the z classifier


def _read_asked(guide: nn.Module, attrs: list[Attribute], z: torch.Tensor, asked: list[Want], floor: dict[int, torch.Tensor],
                kept_of, margin: float, noise: torch.Generator, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """(the log-probability the guide gives every asked value, summed per row; the lowest probability
    of a value the guide must read surely), read around z. `floor` is filled at the anchor (step 0)."""
    rows = torch.arange(len(z))
    logits = read_around(guide, z, noise, cfg)
    lp, worst = torch.zeros(len(z)), torch.ones(len(z))
    for a, attr in enumerate(attrs):
        want = torch.tensor([w.get(a, -1) for w in asked])
        has = want >= 0
        if not has.any():
            continue
        vlp = torch.stack([value_log_probs(lg, attr)[rows, want.clamp_min(0)] for lg in logits]).mean(0)
        if a not in floor:
            p0 = vlp.detach().exp()
            floor[a] = torch.where(kept_of(a) & (p0 < margin), p0 - 0.02, torch.full_like(vlp, margin)).clamp_min(1e-3)
        relaxed = floor[a] < margin
        term = torch.where(relaxed, -(floor[a].log() - vlp).clamp_min(0), vlp)
        lp = lp + torch.where(has, term, torch.zeros_like(vlp))
        # the stop needs the margin on what the guide reads surely; a relaxed value is only held by its term
        worst = torch.minimum(worst, torch.where(has & ~relaxed, vlp.exp(), torch.ones_like(vlp)))
    return lp, worst.detach()


def guided_edit(guide: nn.Module, attrs: list[Attribute], z0: torch.Tensor, asked: list[Want], cfg,
                margin: float = MARGIN, max_steps: int = MAX_EDIT_STEPS, starts: list[Want] | None = None,
                unsettled: set[int] = frozenset()) -> tuple[torch.Tensor, list[int]]:
    """Move each z (R, nz) until the guide gives every asked value at least `margin` (or max_steps);
    returns the edited z and the steps each took. A kept value (the same in `starts`) of an
    `unsettled` attribute, one the bank's pictures rarely show with the margin, only has to stay
    near where the guide read it at the anchor, and does not hold up the stop: CelebA-like labels
    include attributes no picture settles (Attractive), and pushing those to a margin drags z off
    the prior (docs/measured.md)."""
    z = z0.clone().requires_grad_(True)
    done = torch.zeros(len(z0), dtype=torch.bool)
    taken = torch.full((len(z0),), max_steps)
    for p in guide.parameters():
        p.requires_grad_(False)
    noise = torch.Generator().manual_seed(0)
    floor: dict[int, torch.Tensor] = {}  # attribute -> per-row probability each must reach

    def kept_of(a: int) -> torch.Tensor:
        return torch.tensor([a in unsettled and starts is not None and s.get(a) == w.get(a)
                             for s, w in zip(starts or asked, asked)])

    for step in range(max_steps + 1):
        lp, worst = _read_asked(guide, attrs, z, asked, floor, kept_of, margin, noise, cfg)
        newly = (~done) & (worst >= margin)
        taken[newly] = step
        done |= newly
        if done.all() or step == max_steps:
            break
        step_up(z, z0, lp, cfg, moving=~done)
    return z.detach(), taken.tolist()


def guided_plan(inp: Inputs, seen_of=None) -> Plan:
    """Each anchor follows the z classifier's gradient toward every asked value (moved and kept)."""
    guide = guide_for(inp.bank, inp.attrs, on_progress=inp.on_progress)

    def read_z(z: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            logits = guide(z)
        return torch.stack([value_log_probs(logits, a).argmax(1) for a in inp.attrs], 1)

    anchors, seen = _anchors(inp, read_z)
    starts, expected = _targets(inp, seen)
    # an attribute the classifier reads with the margin in under half the bank: no edit can settle it either
    unsettled = {a for a, attr in enumerate(inp.attrs) if float((attr.read(inp.bank.probs)[1] >= MARGIN).float().mean()) < 0.5}
    results, steps = guided_edit(guide, inp.attrs, anchors, expected, inp.cfg, margin=MARGIN, starts=starts,
                                 unsettled=unsettled)
    return _edit_plan(inp, anchors, starts, expected, results, steps, "guided by a classifier on z")


# --- boundary: InterFaceGAN's linear boundaries


def fit_boundaries(bank: SampleBank, attrs: list[Attribute], confident: float = CONFIDENT) -> dict[tuple[int, int], tuple]:
    """(attribute, value) -> (unit normal (nz,), offset, typical signed distance of that value's samples)."""
    z = bank.z.float()
    out = {}
    for a, attr in enumerate(attrs):
        vals, probs = attr.read(bank.probs)
        sure = probs >= confident
        for v in range(len(attr.values)):
            y = (vals == v).float()
            x, t = z[sure], y[sure]
            if t.sum() < 8 or (1 - t).sum() < 8:
                continue
            w = torch.zeros(z.shape[1], requires_grad=True)
            b = torch.zeros(1, requires_grad=True)
            opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

            def closure():
                opt.zero_grad()
                loss = nn.functional.binary_cross_entropy_with_logits(x @ w + b, t) + 1e-3 * w.pow(2).sum()
                loss.backward()
                return loss

            opt.step(closure)
            w, b = w.detach(), float(b.detach())
            norm = w.norm().clamp_min(1e-8)
            dist = (x[t > 0] @ w + b) / norm
            out[(a, v)] = (w / norm, b / float(norm), float(dist.median()))
    return out


def boundary_edit(bounds, z0: torch.Tensor, starts: list[Want], asked: list[Want]) -> tuple[torch.Tensor, list[int]]:
    """Per anchor: for each attribute to move, a step along its target's normal with the kept
    attributes' normals projected out, to the target value's typical distance past its boundary."""
    out, steps = [], []
    for z, start, want in zip(z0, starts, asked):
        moved = [(a, v) for a, v in want.items() if start.get(a) != v and (a, v) in bounds]
        kept = [(a, v) for a, v in want.items() if start.get(a) == v and (a, v) in bounds]
        for k, (a, v) in enumerate(moved):
            n, b, typical = bounds[(a, v)]
            fixed = [bounds[x][0] for x in kept + moved[:k]]
            d = n
            if fixed:  # the part of n orthogonal to every fixed normal: their scores do not change
                N = torch.stack(fixed, 1)
                d = n - N @ torch.linalg.lstsq(N, n[:, None]).solution[:, 0]
            along = float(d @ n)
            if along < 1e-3:  # the target's normal lies in the span of the kept ones: move along it alone
                d, along = n, 1.0
            gap = typical - (float(z @ n) + b)
            if gap > 0:
                z = z + (gap / along) * d
        out.append(z)
        steps.append(len(moved))
    return torch.stack(out), steps


def boundary_plan(inp: Inputs, seen_of=None) -> Plan:
    """Each anchor crosses the boundaries of the values asked of it, the kept ones' normals projected out."""
    bounds = fit_boundaries(inp.bank, inp.attrs)

    def read_z(z: torch.Tensor) -> torch.Tensor:
        cols = []
        for a, attr in enumerate(inp.attrs):
            scores = torch.stack([z @ bounds[(a, v)][0] + bounds[(a, v)][1] if (a, v) in bounds
                                  else torch.full((len(z),), -1e9) for v in range(len(attr.values))], 1)
            cols.append(scores.argmax(1))
        return torch.stack(cols, 1)

    anchors, seen = _anchors(inp, read_z)
    starts, expected = _targets(inp, seen)
    results, steps = boundary_edit(bounds, anchors, starts, expected)
    return _edit_plan(inp, anchors, starts, expected, results, steps, "across linear boundaries (InterFaceGAN)")
