"""`dcgan arithmetic`: latent vector arithmetic over named concepts ("smiling woman - woman + man",
paper fig. 7), with a verdict per attribute.

Concept vectors come from the labelled sample bank (bank.py: generated samples that the data
set's classifier confidently sees as matching a phrase), or from seeds the user names with
--define. One of three methods (arithmetic_methods.py) turns the expression into result
vectors; G draws them, and the same classifier judges each result, attribute by attribute.
`arithmetic()` is the whole recipe, for the CLI, the benchmark and Python users alike.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..attributes.bank import MAX_SAMPLES, MIN_SAMPLES, SampleBank, check_labels, sample_bank
from ..attributes.expectations import Judgement, attributes_of, judge
from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.configs import ARITHMETIC_METHODS, ATTRIBUTE_IMAGES, BANK_SAMPLES
from ..core.errors import UsageError
from ..core.generation import generate
from ..core.images import save_individual
from ..core.progress import Progress
from ..core.results import Result, shown
from ..core.seeds import check_seed, parse_seeds
from ..data import ImageData, checkpoint_data
from .expression import Term, parse_expression, phrase_constraints, term_wants, vocabulary
from .methods import EXEMPLARS, Concept, Inputs, Plan, anchored_plan, mean_plan, paper_plan
from .separability import Separability


@dataclass
class ArithmeticResult(Result):
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
        from .figure import figure

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
            if self.method in FROM_ANCHORS and i == 0:
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
            n = len(j.results)
            for name, s in j.summary.items():
                seen = ", ".join(f"{v} {k}/{n}" for v, k in sorted(s.seen.items(), key=lambda kv: -kv[1]))
                out.append(f"{shown(name)}: expected {'/'.join(s.expected)}, seen {shown(seen)}: {s.verdict}")
            out.append(f"{sum(bool(m) for m in j.all_match)}/{n} results show every expected attribute")
        elif j is not None:
            seen = ", ".join(f"{k} ({v:.2f})" for k, v in j.first_labels.items()) or "no attribute above 0.5"
            why = "its terms cancel" if self.plan.expected else "some phrase is defined by seeds, not by the vocabulary"
            out.append(f"result shows: {shown(seen)} (nothing to expect: {why})")
        if self.classifier:
            out.append(f"attribute model: {self.classifier['accuracy']:.1%} accuracy on {self.classifier['heldout']} held-out "
                       f"real images ({'reused the cached' if self.classifier['reused'] else 'trained now, cached in'} "
                       f"{self.classifier['path']})")
        return out


def parse_define(text: str) -> tuple[str, list[int]]:
    """'smiling woman=12,45,77' -> ('smiling woman', [12, 45, 77])."""
    if "=" not in text:
        raise UsageError(f"--define {text!r}: write 'phrase=seed,seed,...', e.g. 'smiling woman=12,45,77'")
    phrase, seeds = text.split("=", 1)
    phrase = " ".join(phrase.lower().split())
    if not phrase:
        raise UsageError(f"--define {text!r}: the phrase before '=' is empty")
    if not seeds.strip():
        raise UsageError(f"--define {text!r}: no seeds after '='; write e.g. '{phrase}=12,45,77'")
    return phrase, parse_seeds(seeds, flag=f"--define {phrase}=")


FROM_ANCHORS = ("anchored", "guided", "boundary")  # each result starts from its own anchor


def _plans():
    from .edits import boundary_plan, guided_plan

    return {"anchored": anchored_plan, "guided": guided_plan, "boundary": boundary_plan,
            "paper": lambda inp, seen_of: paper_plan(inp), "mean": lambda inp, seen_of: mean_plan(inp)}


def _check(terms: list[Term], method: str, variants: int, samples: int, attr_images: int) -> None:
    if method not in ARITHMETIC_METHODS:
        raise UsageError(f"--method {method!r}: use one of {', '.join(ARITHMETIC_METHODS)}")
    for t in terms:
        if not math.isfinite(t.coef) or abs(t.coef) > 1e6:
            raise UsageError(f"the coefficient {t.coef:g} of {t.phrase!r} is out of range; use numbers up to 1e6")
    if not 0 <= variants <= 1024 or not MIN_SAMPLES <= samples <= MAX_SAMPLES or attr_images < 20:
        raise UsageError("--variants must be 0 to 1024, --samples 16 to 1,000,000 and --attr-images at least 20")
    if method in FROM_ANCHORS and terms[0].coef != 1:
        raise UsageError(f"--method anchored starts from samples of the first term, so its coefficient must be 1 "
                         f"(it is {terms[0].coef:g}); use --method paper for other sums")


def arithmetic(
    ckpt: Checkpoint | str | Path | None,
    expression: str,
    *,
    method: str | None = None,
    defines: dict[str, list[int]] | None = None,
    data: ImageData | None = None,
    samples: int = BANK_SAMPLES,
    attr_images: int = ATTRIBUTE_IMAGES,
    variants: int = 8,
    seed: int = 0,
    probe: bool = False,
    individual: Path | None = None,
    anchors: list[Path] | None = None,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
) -> ArithmeticResult:
    """Evaluate `expression` on a checkpoint: concept vectors, result images, a verdict per attribute.

    Phrases in `defines` are means of the given seeds (for 'anchored', a defined first term's
    seeds are the anchors); the others are found in the labelled sample bank (built on first
    use, then cached), which needs the data set's labels. `probe` adds the z separability report.
    """
    terms = parse_expression(expression)
    c = as_checkpoint(ckpt)
    if method is None:  # the best measured where it can serve; anchored where phrases are defined by seeds
        labelled = bool(c.dataset.get("label_names"))
        method = "guided" if labelled and not any(t.phrase in (defines or {}) for t in terms[1:]) else "anchored"
    _check(terms, method, variants, samples, attr_images)
    if anchors and method in ("paper", "mean"):
        raise UsageError(f"--anchor gives the anchored and edit methods their starting points; --method {method} has none")
    check_seed(seed)
    if individual is not None:
        from ..core.files import check_folder_path

        check_folder_path(individual, "--individual")
    defined = dict(defines or {})
    if method in ("guided", "boundary") and not c.dataset.get("label_names"):
        raise UsageError(f"--method {method} moves z by what a guide on z learned from the data set's labels, and "
                         f"{c.dataset.get('name', 'this data set')} has none; use --method anchored with --define")
    todo = [t for t in terms if t.phrase not in defined]
    if method in ("guided", "boundary") and any(t.phrase in defined for t in terms[1:]):
        raise UsageError(f"--method {method} moves attributes named by words of the data set's labels; a phrase "
                         "defined by seeds can only be the first term (or use --method anchored)")
    bank, attrs, own_of, wants = None, [], {}, None
    if todo:
        label_names = c.dataset.get("label_names") or []
        if not label_names:
            missing = ", ".join(repr(t.phrase) for t in todo)
            raise UsageError(f"this data set has no labels, so {missing} cannot be found; define it from seeds with "
                             "--define 'phrase=12,45,77'")
        vocab = vocabulary(c.dataset.get("name", ""), label_names)
        phrase_constraints(todo, vocab, c.dataset.get("name", ""))  # an unknown word: one line naming the known ones
        if data is None:
            data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
        check_labels(c, data)
        bank = sample_bank(
            c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema, on_progress=on_progress
        )
        attrs = attributes_of(label_names, data.groups)
        known = [i for i, t in enumerate(terms) if all(w in vocab for w in t.words)]
        own_of = dict(zip(known, term_wants([terms[i] for i in known], vocab, attrs, neutral=method not in FROM_ANCHORS)))
        if len(known) == len(terms):  # every term is in the vocabulary: the result's attributes can be expected
            wants = [own_of[i] for i in range(len(terms))]
    G = c.generator(device, ema=ema)
    anchor_z, photos, sources = None, None, None
    if anchors:
        from ..projection.project import latent_ends

        which = c.generator_name(ema)
        ends = latent_ends(c, G, which, list(anchors), flag="--anchor", device=device)
        anchor_z, sources = torch.stack([e.z for e in ends]), [e.label for e in ends]
        photos = torch.stack([e.target if e.target is not None else generate(G, e.z[None])[0] for e in ends])
    inputs = Inputs(terms, c.model_config, defined, bank, attrs, own_of, wants, variants, seed, anchor_z)

    def seen_of(z: torch.Tensor) -> torch.Tensor:  # (B, len(attrs)) the attribute values G's images of z show
        probs = bank.classifier.predict(generate(G, z).to(device))
        return torch.stack([a.read(probs)[0] for a in attrs], 1)

    plan = _plans()[method](inputs, seen_of)
    result_images = generate(G, plan.result_z)
    verdict = None
    if bank is not None:
        probs = bank.classifier.predict(result_images.to(device))
        verdict = judge(probs, bank.classifier.label_names, attrs, plan.expected, plan.start)
    sep = None
    if probe:
        from .separability import z_separability

        sep = z_separability(c, samples=samples, attr_images=attr_images, seed=seed, ema=ema, device=device,
                             data_root=data_root, cache_dir=cache_dir, on_progress=on_progress)
    exemplar_images = [generate(G, z) for z in plan.exemplars]
    if photos is not None:  # the anchors' column shows the pictures themselves; its vector tile, G's reconstruction
        exemplar_images[0] = photos[:EXEMPLARS]
    return ArithmeticResult(expression, method, terms, plan, generate(G, plan.term_z), exemplar_images,
                            result_images, verdict, set(defined), c.path, c.step, seed,
                            bank.classifier.describe() if bank is not None else {}, bank, individual, sep,
                            generate(G, plan.anchor_z) if plan.anchor_z is not None else None, sources)
