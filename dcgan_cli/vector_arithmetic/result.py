"""The result of `dcgan arithmetic`: what each term was, the results drawn, the verdict per attribute.

It is data: `arithmetic()` (entry.py) did the work; this object only describes and writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..attributes.bank import SampleBank
from ..attributes.expectations import Judgement
from ..attributes.phrases import Term
from ..core.images import save_individual
from ..core.results import Result, shown
from .figure import figure
from .methods import Concept, Plan
from .separability import Separability
from .table import METHODS


@dataclass(kw_only=True)
class ArithmeticResult(Result):
    """What `arithmetic()` found: the plan, its pictures drawn, and the judge's verdict."""

    command = "arithmetic"
    expression: str
    method: str
    terms: list[Term]
    plan: Plan = field(repr=False)
    term_images: torch.Tensor = field(repr=False)  # (T, C, H, W): each term's vector drawn (the anchor for 'anchored')
    exemplar_images: list[torch.Tensor] = field(repr=False)  # per term (k, C, H, W): samples of the term
    result_images: torch.Tensor = field(repr=False)  # (R, C, H, W): one per anchor, or the result then its variants
    judgement: Judgement | None  # None when no term was found in the bank (all --define'd)
    defined: set[str] = field(default_factory=set)
    checkpoint_path: Path | None = None
    step: int = 0
    seed: int = 0
    classifier: dict[str, Any] = field(default_factory=dict)  # the data set's classifier: accuracy, cache, reused
    bank: SampleBank | None = field(default=None, repr=False)
    individual: Path | None = None  # also write each result image here, result-N.png
    separability: Separability | None = None  # --probe: what z holds linearly
    anchor_images: torch.Tensor | None = field(default=None, repr=False)  # (R, C, H, W): each result's anchor ('anchored')
    anchor_sources: list[str] | None = None  # --anchor: the images or z files the anchors came from

    @property
    def concepts(self) -> list[Concept]:
        return self.plan.concepts

    @property
    def result_match(self) -> list[bool | None]:
        return self.judgement.all_match if self.judgement is not None else [None] * len(self.result_images)

    def default_name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.expression.lower()).strip("-")[:60] or "expression"
        return f"{slug}-{self.method}-seed{self.seed}.png"

    def figure(self):
        return figure(self)

    def save(self, target: Path) -> list[Path]:
        written = super().save(target)
        if self.individual is not None:
            save_individual(self.result_images, self.individual, [f"result-{i}.png" for i in range(len(self.result_images))])
            written.append(self.individual)
        return written

    def term_rows(self) -> list[dict[str, Any]]:
        rows = []
        for i, (t, k) in enumerate(zip(self.terms, self.concepts)):
            entry = {"phrase": t.phrase, "coef": t.coef, "count": k.count, "confidence": round(k.confidence, 4),
                     "from": "seeds" if t.phrase in self.defined else "samples"}
            if METHODS[self.method].from_anchors and i == 0:
                entry |= {"role": "anchor", "anchors": len(self.result_images)}
                if self.anchor_sources:
                    entry |= {"from": "your images", "sources": self.anchor_sources}
            rows.append(entry | (self.plan.notes[i] if i < len(self.plan.notes) else {}))
        return rows

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"expression": self.expression, "method": self.method, "checkpoint": str(self.checkpoint_path),
                               "step": self.step, "terms": self.term_rows(), "results": [], "attribute_model_accuracy": None}
        if self.judgement is not None:
            out |= {"attribute_model_accuracy": self.classifier.get("accuracy"),
                    "attribute_model_heldout": self.classifier.get("heldout"), "classifier": self.classifier,
                    "result_attributes": self.judgement.first_labels, "results": self.judgement.results}
            if self.plan.edit_steps is not None:
                for r, size, steps in zip(out["results"], self.plan.edit_sizes().tolist(), self.plan.edit_steps):
                    r |= {"edit_size": round(size, 4), "edit_share_of_prior": round(size / self.plan.prior_norm, 4),
                          "edit_steps": steps}
            if self.judgement.summary:
                out["summary"] = {n: s.to_dict() for n, s in self.judgement.summary.items()}
        if self.separability is not None:
            out["separability"] = self.separability.to_dict()
        return out

    def verdict_lines(self) -> list[str]:
        """One line per expected attribute: what was expected, what the results show, the verdict."""
        j = self.judgement
        if j is None or not j.summary:
            return []
        out, n = [], len(j.results)
        for name, s in j.summary.items():
            seen = ", ".join(f"{v} {k}/{n}" for v, k in sorted(s.seen.items(), key=lambda kv: -kv[1]))
            out.append(f"{shown(name)}: expected {'/'.join(s.expected)}, seen {shown(seen)}: {s.verdict}")
        return out

    def lines(self) -> list[str]:
        out = self.separability.lines() if self.separability is not None else []
        for t in self.term_rows():
            if t.get("role") == "anchor":
                how = f"{t['anchors']} anchors: {'seeds' if t['from'] == 'seeds' else 'samples'} of it"
                if t.get("sources"):
                    how = f"{t['anchors']} anchor(s) projected from {shown(', '.join(t['sources']))}"
            else:
                how = "seeds" if t["from"] == "seeds" else f"{t['count']} samples, match {t['confidence']:.2f}"
                how = f"mean z of {how}"
            asked = f" (asked: {t['asked']})" if t.get("asked") else ""
            relaxed = f"; too few samples, so not held: {', '.join(t['relaxed'])}" if t.get("relaxed") else ""
            out.append(f"{t['coef']:+g} x {t['phrase']!r}{asked}: {how}{relaxed}")
        if self.plan.edit_steps is not None:
            size = self.plan.edit_sizes()
            out.append(f"edit: |dz| {size.mean():.2f} on average ({size.mean() / self.plan.prior_norm:.0%} of the prior's "
                       f"typical |z|), {sum(self.plan.edit_steps) / len(self.plan.edit_steps):.0f} steps; "
                       f"{self.plan.notes[0].get('edit', '')}")
        j = self.judgement
        if j is not None and j.summary:
            out += self.verdict_lines()
            out.append(f"{sum(bool(m) for m in j.all_match)}/{len(j.results)} results show every expected attribute")
        elif j is not None:
            seen = ", ".join(f"{k} ({v:.2f})" for k, v in j.first_labels.items()) or "no attribute above 0.5"
            why = "its terms cancel" if self.plan.expected else "some phrase is defined by seeds, not by the vocabulary"
            out.append(f"result shows: {shown(seen)} (nothing to expect: {why})")
        else:  # every phrase was defined by seeds and no classifier read the results
            out.append("results not checked: every phrase was defined by seeds, so no classifier read the results "
                       "(on a data set without labels none can); look at the pictures")
        if self.classifier:
            out.append(f"attribute model: {self.classifier['accuracy']:.1%} accuracy on {self.classifier['heldout']} held-out "
                       f"real images ({'reused the cached' if self.classifier['reused'] else 'trained now, cached in'} "
                       f"{self.classifier['path']})")
        return out
