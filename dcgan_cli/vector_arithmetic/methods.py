"""The three methods of `dcgan arithmetic` that sum concept vectors (anchored, paper, mean), one function
each, and what every method shares: the `Plan`, the concepts' matches and the anchors.

Every method returns the same `Plan`: per term the vector it adds (and samples to show for it),
the result vectors, and per result what each attribute should end up as. The other two methods,
guided (the default, where it can serve) and boundary, edit z rather than sum means: edits.py.

- anchored: each result starts from a concrete sample of the first term (an anchor) and adds the
  other terms' means, each taken over samples that share the anchor's other attributes. The mean
  of a few dozen samples carries noise of norm about sqrt(nz / k), and averaging over unlike samples
  carries their correlated attributes along, so the paper's plain sum of means moves what it
  should not (benchmarks/arithmetic_check.py measures the methods).
- paper: the sum of the means of 3 exemplars per term, then uniform +-0.25 noise for the other
  results (Radford et al. 6.3.2).
- mean: the sum of the means of every confident match, rescaled to the prior's typical norm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..attributes.bank import SampleBank
from ..attributes.expectations import CONFIDENT, Attribute, Want, describe, expected_values, match_score
from ..attributes.phrases import Term
from ..core.errors import DcganError, UsageError
from ..core.model import typical_norm, z_from_seeds

EXEMPLARS = 3  # samples shown (and, for the paper's method, averaged) per term, as in the paper's figure 7
MIN_CONTEXT = 8  # samples a context mean needs before its narrowest attributes are let go


@dataclass
class Concept:
    phrase: str
    z: torch.Tensor  # (nz,) the vector the sum uses for this term
    count: int  # samples averaged
    confidence: float  # mean match score of those samples


@dataclass
class Inputs:
    """What every method starts from: the terms, the bank and what each term asks of the attributes."""

    terms: list[Term]
    cfg: object  # ModelConfig
    defined: dict[str, list[int]]  # phrase -> seeds (--define)
    bank: SampleBank | None
    attrs: list[Attribute]
    own_of: dict[int, Want]  # term index -> the attribute values its words ask for (vocabulary terms only)
    wants: list[Want] | None  # every term's wants, when every term is in the vocabulary
    variants: int
    seed: int
    anchor_z: torch.Tensor | None = None  # (R, nz) given anchors (projected images, z files): the results start there
    on_progress: object = None  # Progress: the slow first-use steps of a method (the guide on z) report here


@dataclass
class Plan:
    concepts: list[Concept]  # per term, for the first result
    exemplars: list[torch.Tensor]  # per term (k, nz): samples of the term, to show
    term_z: torch.Tensor  # (T, nz): each term's vector (the anchor for the first term of 'anchored')
    result_z: torch.Tensor  # (R, nz)
    anchor_z: torch.Tensor | None = None  # (R, nz) the anchors the results start from ('anchored')
    expected: list[Want] = field(default_factory=list)  # per result: the attribute values it should show
    start: list[Want] = field(default_factory=list)  # per result: the values it starts from (first term)
    notes: list[dict] = field(default_factory=list)  # per term: the context asked for, attributes let go
    edit_steps: list[int] | None = None  # per result, the edit methods' steps (guided: gradient steps; boundary: crossings)
    prior_norm: float = 0.0  # the prior's typical |z|, to say how large an edit is

    def edit_sizes(self) -> torch.Tensor:
        """(R,) |result - anchor| of each result (empty without anchors)."""
        return (self.result_z - self.anchor_z).norm(dim=1) if self.anchor_z is not None else torch.empty(0)


def too_few(phrase: str, detail: str) -> DcganError:
    return DcganError(f"too few generated samples look like {phrase!r} ({detail}); train longer, use more --samples, "
                      "or define it by hand with --define")


def sum_terms(terms: list[Term], concepts: list[Concept]) -> torch.Tensor:
    """sum_i coef_i * z_i: the result vector (nz,)."""
    r = sum(t.coef * c.z for t, c in zip(terms, concepts))
    if not torch.isfinite(r).all():
        raise UsageError("the expression's coefficients are too large: the result vector is not finite")
    return r


def to_prior_shell(z: torch.Tensor, cfg) -> torch.Tensor:
    """Scale vectors (..., nz) to the prior's typical norm. A mean of many z is much shorter than any
    sample (by sqrt of the count), and G has never seen such short inputs: keep the direction only."""
    return z * (typical_norm(cfg) / z.norm(dim=-1, keepdim=True).clamp_min(1e-8))


def _pick(score: torch.Tensor, k: int, g: torch.Generator, threshold: float = CONFIDENT) -> torch.Tensor:
    """k indices drawn at random among the samples scoring >= threshold (the best ones if too few)."""
    good = (score >= threshold).nonzero().view(-1)
    if len(good) >= k:
        return good[torch.randperm(len(good), generator=g)[:k]]
    best = score.argsort(descending=True)[:k]
    return best[score[best] >= 0.5]


def _seed_concept(phrase: str, cfg, seeds: list[int]) -> tuple[Concept, torch.Tensor]:
    z = z_from_seeds(cfg, seeds)
    return Concept(phrase, z.mean(0), len(z), 1.0), z


def _summed(inp: Inputs, pick, g: torch.Generator) -> Plan:
    """The two methods that sum one vector per term: `pick(score, g)` chooses each term's samples."""
    concepts, exemplars = [], []
    for i, t in enumerate(inp.terms):
        if t.phrase in inp.defined:
            k, z = _seed_concept(t.phrase, inp.cfg, inp.defined[t.phrase])
            concepts.append(k)
            exemplars.append(z[:EXEMPLARS])
            continue
        score = match_score(inp.bank.probs, inp.own_of[i], inp.attrs)
        idx, shown = pick(score, g)
        if len(idx) == 0:
            raise too_few(t.phrase, f"best match {float(score.max()):.2f}")
        concepts.append(Concept(t.phrase, inp.bank.z[idx].mean(0), len(idx), float(score[idx].mean())))
        exemplars.append(inp.bank.z[shown])
    return Plan(concepts, exemplars, torch.stack([k.z for k in concepts]), sum_terms(inp.terms, concepts)[None])


def _expect_same(inp: Inputs, plan: Plan, n: int) -> Plan:
    if inp.wants is not None:
        plan.expected = [expected_values([t.coef for t in inp.terms], inp.wants, inp.attrs)] * n
        plan.start = [inp.wants[0]] * n
    return plan


def paper_plan(inp: Inputs) -> Plan:
    """Means of 3 exemplars per term, summed; the paper's figure 7 adds uniform noise of +-0.25
    to the result for the other samples."""
    def pick(score, g):
        idx = _pick(score, EXEMPLARS, g)
        return idx, idx

    g = torch.Generator().manual_seed(inp.seed)
    plan = _summed(inp, pick, g)
    r = plan.result_z[0]
    eps = (torch.rand(inp.variants, r.shape[0], generator=g) * 2 - 1) * 0.25 * inp.cfg.z_scale
    plan.result_z = torch.cat([r[None], r[None] + eps])
    return _expect_same(inp, plan, 1 + inp.variants)


def mean_plan(inp: Inputs) -> Plan:
    """Means of every confident match (at least 8), summed and rescaled to the prior's shell."""
    def pick(score, g):
        idx = (score >= CONFIDENT).nonzero().view(-1)
        if len(idx) < 8:
            idx = _pick(score, 8, g)
        return idx, idx[torch.randperm(len(idx), generator=g)[:EXEMPLARS]]

    g = torch.Generator().manual_seed(inp.seed)
    plan = _summed(inp, pick, g)
    r = to_prior_shell(plan.result_z[0], inp.cfg)
    eps = torch.randn(inp.variants, r.shape[0], generator=g) * 0.25 * inp.cfg.z_scale
    plan.result_z = torch.cat([r[None], r[None] + eps])
    return _expect_same(inp, plan, 1 + inp.variants)


class _Matcher:
    """Means of the bank's samples that match a want, relaxing the context when it is too narrow."""

    def __init__(self, bank: SampleBank, attrs: list[Attribute], min_count: int = MIN_CONTEXT):
        self.bank, self.attrs, self.min_count = bank, attrs, min_count
        self.cache: dict[frozenset, tuple[Concept, torch.Tensor]] = {}

    def concept(self, phrase: str, own: Want, context: Want) -> tuple[Concept, torch.Tensor, list[str]]:
        """The mean over samples matching own + context; context attributes are dropped, last first,
        until enough samples match. Returns the concept, its members' indices and what was dropped."""
        keys = list(context)
        dropped: list[str] = []
        while True:
            want = own | {a: context[a] for a in keys}
            key = frozenset(want.items())
            if key not in self.cache:
                score = match_score(self.bank.probs, want, self.attrs)
                chosen = (score >= CONFIDENT).nonzero().view(-1)
                mean = self.bank.z[chosen].mean(0) if len(chosen) else torch.zeros(self.bank.z.shape[1])
                self.cache[key] = (
                    Concept(phrase, mean, int(chosen.numel()), float(score[chosen].mean()) if len(chosen) else 0.0),
                    chosen,
                )
            concept, chosen = self.cache[key]
            if concept.count >= self.min_count:
                return concept, chosen, dropped
            if not keys:
                best = float(match_score(self.bank.probs, own, self.attrs).max())
                raise too_few(phrase, f"{concept.count} of {len(self.bank.z)}, best match {best:.2f}")
            dropped.append(self.attrs[keys.pop()].name)


def _anchors(inp: Inputs, seen_of) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The first term's samples the results start from, and the attribute values each shows."""
    first, n = inp.terms[0], 1 + inp.variants
    if inp.anchor_z is not None:
        return inp.anchor_z, (seen_of(inp.anchor_z) if inp.bank is not None else None)
    if first.phrase in inp.defined:
        anchors = z_from_seeds(inp.cfg, inp.defined[first.phrase])
        return anchors, (seen_of(anchors) if inp.bank is not None else None)
    # The most confident matches: on anchors the classifier is unsure of, another judge disagrees
    # about what the anchor even is (benchmarks/arithmetic_check.py compares the two).
    score = match_score(inp.bank.probs, inp.own_of[0], inp.attrs)
    idx = score.argsort(descending=True)[:n]
    idx = idx[score[idx] >= 0.5]
    if len(idx) == 0:
        raise too_few(first.phrase, f"best match {float(score.max()):.2f}")
    return inp.bank.z[idx], torch.stack([a.read(inp.bank.probs[idx])[0] for a in inp.attrs], 1)


def _later_wants(inp: Inputs) -> dict[int, Want]:
    """The wants of the terms after the first, less what they ask alike: "- neutral woman + neutral
    man" says nothing about smiling, so such attributes are taken from the anchor instead and the
    difference is measured where the anchor is, not in another context."""
    later = {i: dict(inp.own_of.get(i, {})) for i in range(1, len(inp.terms)) if inp.terms[i].phrase not in inp.defined}
    for a in {a for w in later.values() for a in w}:
        weight: dict[int, float] = {}
        for i, w in later.items():
            if a in w:
                weight[w[a]] = weight.get(w[a], 0.0) + inp.terms[i].coef
        if all(abs(x) < 1e-9 for x in weight.values()):
            for w in later.values():
                w.pop(a, None)
    return later


def anchored_plan(inp: Inputs, seen_of) -> Plan:
    """Each result = an anchor + the other terms' means taken in the anchor's context.

    `seen_of(z)` reads the attribute values of G's images of z (for --define'd anchors)."""
    terms, attrs, bank = inp.terms, inp.attrs, inp.bank
    anchors, anchor_seen = _anchors(inp, seen_of)
    named = {a for w in (inp.wants or []) for a in w}
    # A context too narrow lets go of its last attribute first: those the expression never names.
    context_attrs = sorted((a for a, attr in enumerate(attrs) if not attr.free or a in named), key=lambda a: a not in named)
    matcher = _Matcher(bank, attrs) if bank is not None else None
    later = _later_wants(inp)
    notes: list[dict] = [{} for _ in terms]
    plan = Plan([], [], torch.empty(0), torch.empty(0), anchors, notes=notes)
    results = []
    for j, za in enumerate(anchors):
        context = {a: int(anchor_seen[j, a]) for a in context_attrs} if anchor_seen is not None else {}
        step = torch.zeros_like(za)
        concepts, row_wants = [Concept(terms[0].phrase, za, 1, 1.0)], [dict(context) | inp.own_of.get(0, {})]
        exemplars = [anchors[:EXEMPLARS]]
        for i, t in enumerate(terms[1:], 1):
            if t.phrase in inp.defined:
                k, members = _seed_concept(t.phrase, inp.cfg, inp.defined[t.phrase])
                row_wants.append({})
            else:
                own = later[i]
                ctx = {a: v for a, v in context.items() if a not in own}
                k, chosen, dropped = matcher.concept(t.phrase, own, ctx)
                pick = torch.randperm(len(chosen), generator=torch.Generator().manual_seed(inp.seed + i))[:EXEMPLARS]
                members = bank.z[chosen[pick]]
                row_wants.append(own | {a: v for a, v in ctx.items() if attrs[a].name not in dropped})
                if j == 0:
                    notes[i] = {"asked": describe(row_wants[-1], attrs), "relaxed": dropped}
            step = step + t.coef * k.z
            concepts.append(k)
            exemplars.append(members)
        results.append(za + step)
        if j == 0:
            plan.concepts, plan.exemplars = concepts, exemplars
            plan.term_z = torch.stack([za] + [k.z for k in concepts[1:]])
        if inp.wants is not None and anchor_seen is not None:
            plan.expected.append(expected_values([t.coef for t in terms], row_wants, attrs))
            plan.start.append(row_wants[0])
    plan.result_z = torch.stack(results)
    return plan
