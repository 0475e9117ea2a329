"""Latent vector arithmetic over named concepts ("smiling woman - woman + man", paper fig. 7).

Concept vectors are mean z of generated samples that an attribute model, trained on the real
labelled images, confidently sees as matching a phrase. A bank of labelled samples is cached in
the run folder, so a second expression costs no generation. The default method starts from
concrete samples of the first term and adds the other terms' means taken over samples that share
that anchor's other attributes: the mean of a few dozen samples carries noise of norm about
sqrt(nz / k), and averaging over unlike samples carries their correlated attributes along, so
the paper's plain sum of means moves what it should not (measured in
benchmarks/arithmetic_check.py). `run` is the whole recipe, for the CLI, the benchmark and
Python users alike; the attribute model judges the result, attribute by attribute.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from ..checkpoint import Checkpoint, as_checkpoint
from ..configs import ARITHMETIC_METHODS
from ..data import ImageData, checkpoint_data
from ..errors import DcganError, UsageError
from ..files import write_bytes
from ..model import sample_z, z_from_seeds
from ..runs import RunFolder
from .attributes import ATTRIBUTE_RECIPE, AttributeModel, AttributeNet, train_attribute_model
from .expectations import Attribute, Want, attributes_of, describe, expected_values, match_score, term_wants, verdicts
from .expression import Term, parse_expression, phrase_constraints, vocabulary
from .sample import generate, parse_seeds


@dataclass
class SampleBank:
    """Generated samples labelled by the attribute model: z (M, nz), probabilities (M, A)."""

    z: torch.Tensor
    probs: torch.Tensor
    accuracy: float
    heldout: int
    attr_model: AttributeModel


def bank_path(ckpt: Checkpoint, label_names: list[str], n: int, seed: int, attr_images: int, data_key: str = "",
              ema: bool | None = None) -> Path:
    # data_key names the prepared data (its cache folder holds the source fingerprint): a rebuilt
    # data set must not reuse an attribute model trained on the old one.
    uses_ema = ema is not False and ckpt.has_ema
    key = [ckpt.path.name, ckpt.step, ckpt.path.stat().st_size, label_names, n, seed, attr_images, data_key, ATTRIBUTE_RECIPE, uses_ema]
    key = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    run = ckpt.run
    folder = run.concepts if run is not None else RunFolder(ckpt.path.parent).concepts
    return folder / f"{ckpt.path.stem}-{key}.safetensors"


def sample_bank(ckpt: Checkpoint, data: ImageData, *, n: int = 4096, seed: int = 0,
                attr_images: int = 30_000, device: torch.device | str = "cpu", ema: bool | None = None,
                on_progress: Callable[[str, int, int], None] | None = None) -> SampleBank:
    """Load the cached bank for (checkpoint, data, vocabulary), or build it: train the attribute
    model on the data's real labelled images, generate n samples and label them."""
    images, labels, label_names = data.images, data.labels, data.label_names
    path = bank_path(ckpt, label_names, n, seed, attr_images, data.cache_dir.name if data.cache_dir else "", ema)
    channels = ckpt.model_config.nc
    if path.exists():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads(f.metadata()["concepts"])
                t = {k: f.get_tensor(k) for k in f.keys()}
            net = AttributeNet(channels, len(label_names))
            net.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net/")})
            am = AttributeModel(net.to(device).eval(), label_names, meta["accuracy"], meta["heldout"], data.groups)
            if t["z"].shape != (n, ckpt.model_config.nz) or t["probs"].shape != (n, len(label_names)):
                raise ValueError("shape")
            return SampleBank(t["z"], t["probs"], meta["accuracy"], meta["heldout"], am)
        except Exception:
            path.unlink(missing_ok=True)  # a damaged cache is rebuilt, never trusted
    if labels is None:
        raise UsageError("this data set has no labels; define concepts from seeds with --define 'phrase=12,45,77'")
    def report(what: str):
        return (lambda done, total: on_progress(what, done, total)) if on_progress is not None else None

    am = train_attribute_model(images, labels, label_names, groups=data.groups, seed=seed, max_images=attr_images, device=device,
                               on_progress=report("training the attribute model (epochs)"))
    G = ckpt.generator(device, ema=ema)
    z = sample_z(ckpt.model_config, n, torch.Generator().manual_seed(seed))
    probs = am.predict(generate(G, z, on_progress=report("labelling generated samples")))
    tensors = {"z": z, "probs": probs} | {f"net/{k}": v.detach().cpu().contiguous() for k, v in am.net.state_dict().items()}
    meta = {"accuracy": am.accuracy, "heldout": am.heldout, "label_names": label_names, "checkpoint": str(ckpt.path)}
    write_bytes(path, st_save(tensors, metadata={"concepts": json.dumps(meta)}), what="sample bank")
    return SampleBank(z, probs, am.accuracy, am.heldout, am)


@dataclass
class Concept:
    phrase: str
    z: torch.Tensor  # (nz,) mean latent vector
    count: int  # samples averaged
    confidence: float  # mean match score of those samples


def parse_define(text: str) -> tuple[str, list[int]]:
    """'smiling woman=12,45,77' -> ('smiling woman', [12, 45, 77])."""
    if "=" not in text:
        raise UsageError(f"--define {text!r}: write 'phrase=seed,seed,...', e.g. 'smiling woman=12,45,77'")
    phrase, seeds = text.split("=", 1)
    phrase = " ".join(phrase.lower().split())
    if not phrase:
        raise UsageError(f"--define {text!r}: the phrase before '=' is empty")
    return phrase, parse_seeds(seeds, flag="--define")


def typical_norm(cfg) -> float:
    """E||z|| under the prior: sqrt(nz) * std for normal z, sqrt(nz / 3) * half-width for uniform."""
    return cfg.z_scale * (cfg.nz if cfg.z_dist == "normal" else cfg.nz / 3) ** 0.5


def to_prior_shell(z: torch.Tensor, cfg) -> torch.Tensor:
    """Scale vectors (..., nz) to the prior's typical norm. A mean of many z is much shorter than any
    sample (by sqrt of the count), and G has never seen such short inputs: keep the direction only."""
    return z * (typical_norm(cfg) / z.norm(dim=-1, keepdim=True).clamp_min(1e-8))


def combine(terms: list[Term], concepts: list[Concept]) -> torch.Tensor:
    """sum_i coef_i * z_i: the result vector (nz,)."""
    r = sum(t.coef * c.z for t, c in zip(terms, concepts))
    if not torch.isfinite(r).all():
        raise UsageError("the expression's coefficients are too large: the result vector is not finite")
    return r


METHODS = ARITHMETIC_METHODS
EXEMPLARS = 3  # samples shown (and, for the paper's method, averaged) per term, as in the paper's figure 7


@dataclass
class ArithmeticResult:
    expression: str
    method: str
    terms: list[Term]
    concepts: list[Concept]  # per term, for the first result: the vector it adds
    term_images: torch.Tensor  # (T, C, H, W) in [-1, 1]: each term's mean vector drawn (the anchor for 'anchored')
    exemplar_images: list[torch.Tensor]  # per term (k, C, H, W): samples of the term
    result_images: torch.Tensor  # (R, C, H, W): the result for each anchor, or the result then its noisy variants
    result_match: list[bool | None] = field(default_factory=list)  # per result image: every expected attribute seen
    result_z: torch.Tensor | None = None  # (R, nz): what G drew the results from
    anchor_z: torch.Tensor | None = None  # (R, nz): the anchors the results start from ('anchored' only)
    report: dict[str, Any] = field(default_factory=dict)  # JSON-able: terms, expected, seen, match, accuracy
    bank: SampleBank | None = None


def _pick(score: torch.Tensor, k: int, g: torch.Generator, threshold: float = 0.8) -> torch.Tensor:
    """k indices drawn at random among the samples scoring >= threshold (the best ones if too few)."""
    good = (score >= threshold).nonzero().view(-1)
    if len(good) >= k:
        return good[torch.randperm(len(good), generator=g)[:k]]
    best = score.argsort(descending=True)[:k]
    return best[score[best] >= 0.5]


def too_few(phrase: str, detail: str) -> DcganError:
    return DcganError(f"too few generated samples look like {phrase!r} ({detail}); train longer, use more --samples, "
                      "or define it by hand with --define")


class _Matcher:
    """Means of the bank's samples that match a want, relaxing the context when it is too narrow."""

    def __init__(self, bank: SampleBank, attrs: list[Attribute], min_count: int = 8):
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
                chosen = (score >= 0.8).nonzero().view(-1)
                self.cache[key] = (Concept(phrase, self.bank.z[chosen].mean(0) if len(chosen) else torch.zeros(self.bank.z.shape[1]),
                                           int(chosen.numel()), float(score[chosen].mean()) if len(chosen) else 0.0), chosen)
            concept, chosen = self.cache[key]
            if concept.count >= self.min_count:
                return concept, chosen, dropped
            if not keys:
                best = float(match_score(self.bank.probs, own, self.attrs).max())
                raise too_few(phrase, f"{concept.count} of {len(self.bank.z)}, best match {best:.2f}")
            dropped.append(self.attrs[keys.pop()].name)


def run(
    ckpt: Checkpoint | str | Path | None,
    expression: str,
    *,
    method: str = "anchored",
    defines: dict[str, list[int]] | None = None,
    data: ImageData | None = None,
    samples: int = 16384,
    attr_images: int = 30_000,
    variants: int = 8,
    seed: int = 0,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> ArithmeticResult:
    """Evaluate `expression` on a checkpoint: concept vectors, result images, a verdict per attribute.

    Methods: 'anchored' (default) starts from concrete samples of the first term and adds the other
    terms' means, each taken over samples that share the anchor's other attributes; 'paper' sums
    the means of 3 exemplars per term (Radford et al. 6.3.2); 'mean' sums the means of every
    confident match, rescaled to the prior's shell. Phrases in `defines` are means of the given
    seeds (for 'anchored', a defined first term's seeds are the anchors); the others are found in a
    labelled sample bank (built on first use, then cached), which needs the data set's labels.
    """
    if method not in METHODS:
        raise UsageError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    terms = parse_expression(expression)
    for t in terms:
        if not math.isfinite(t.coef) or abs(t.coef) > 1e6:
            raise UsageError(f"the coefficient {t.coef:g} of {t.phrase!r} is out of range; use numbers up to 1e6")
    if not 0 <= variants <= 1024 or not 16 <= samples <= 1_000_000 or attr_images < 20:
        raise UsageError("--variants must be 0 to 1024, --samples 16 to 1,000,000 and --attr-images at least 20")
    if method == "anchored" and terms[0].coef != 1:
        raise UsageError(f"--method anchored starts from samples of the first term, so its coefficient must be 1 (it is {terms[0].coef:g}); "
                         "use --method paper for other sums")
    c = as_checkpoint(ckpt)
    cfg = c.model_config
    defined = dict(defines or {})
    todo = [t for t in terms if t.phrase not in defined]
    bank, attrs, wants, own_of = None, [], None, {}
    if todo:
        label_names = c.dataset.get("label_names") or []
        if not label_names:
            missing = ", ".join(repr(t.phrase) for t in todo)
            raise UsageError(f"this data set has no labels, so {missing} cannot be found; define it from seeds with --define 'phrase=12,45,77'")
        vocab = vocabulary(c.dataset.get("name", ""), label_names)
        phrase_constraints(todo, vocab)  # unknown words: one line naming the known ones, before any work
        if data is None:
            data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
        if data.label_names != label_names:
            raise DcganError(f"the data in {data.cache_dir} has other labels than the checkpoint records; pass the data set it was trained on")
        bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema, on_progress=on_progress)
        attrs = attributes_of(label_names, data.groups)
        known = [i for i, t in enumerate(terms) if all(w in vocab for w in t.words)]
        own_of = dict(zip(known, term_wants([terms[i] for i in known], vocab, attrs, neutral=method != "anchored")))
        if len(known) == len(terms):  # every term is in the vocabulary: the result's attributes can be expected
            wants = [own_of[i] for i in range(len(terms))]
    G = c.generator(device, ema=ema)
    g = torch.Generator().manual_seed(seed)
    n_results = 1 + variants

    def seen_of(images: torch.Tensor) -> torch.Tensor:  # (B, len(attrs)) value indices
        probs = bank.attr_model.predict(images.to(device))
        return torch.stack([a.read(probs)[0] for a in attrs], 1) if attrs else torch.zeros(len(images), 0, dtype=torch.long)

    concepts: list[Concept] = []
    exemplars: list[torch.Tensor] = []  # z (k, nz) per term
    expected: list[Want] = []  # per result image
    start: list[Want] = []
    notes: list[dict] = [{} for _ in terms]
    if method in ("paper", "mean"):
        for i, t in enumerate(terms):
            if t.phrase in defined:
                z = z_from_seeds(cfg, defined[t.phrase])
                concepts.append(Concept(t.phrase, z.mean(0), len(z), 1.0))
                exemplars.append(z[:EXEMPLARS])
                continue
            own = own_of[i]
            score = match_score(bank.probs, own, attrs)
            if method == "paper":
                idx = _pick(score, EXEMPLARS, g)
            else:
                idx = (score >= 0.8).nonzero().view(-1)
                if len(idx) < 8:
                    idx = _pick(score, 8, g)
            if len(idx) == 0:
                raise too_few(t.phrase, f"best match {float(score.max()):.2f}")
            concepts.append(Concept(t.phrase, bank.z[idx].mean(0), len(idx), float(score[idx].mean())))
            exemplars.append(bank.z[idx[torch.randperm(len(idx), generator=g)[:EXEMPLARS]]] if method == "mean" else bank.z[idx])
        r = combine(terms, concepts)
        if method == "mean":
            r = to_prior_shell(r, cfg)
            eps = torch.randn(variants, r.shape[0], generator=g) * 0.25 * cfg.z_scale
        else:  # the paper's figure 7: noise of scale +-0.25 added to the result for the other samples
            eps = (torch.rand(variants, r.shape[0], generator=g) * 2 - 1) * 0.25 * cfg.z_scale
        result_z = torch.cat([r[None], r[None] + eps])
        term_z = torch.stack([k.z for k in concepts])
        if wants is not None:
            expected = [expected_values([t.coef for t in terms], wants, attrs)] * n_results
            start = [wants[0]] * n_results
    else:
        first = terms[0]
        if first.phrase in defined:
            anchors = z_from_seeds(cfg, defined[first.phrase])
            anchor_seen = seen_of(generate(G, anchors)) if bank is not None else None
        else:
            # The most confident matches: on anchors the attribute model is unsure of, another judge
            # disagrees about what the anchor even is (benchmarks/arithmetic_check.py: random
            # confident anchors 33% of results right, the most confident 40%).
            score = match_score(bank.probs, own_of[0], attrs)
            idx = score.argsort(descending=True)[:n_results]
            idx = idx[score[idx] >= 0.5]
            if len(idx) == 0:
                raise too_few(first.phrase, f"best match {float(score.max()):.2f}")
            anchors = bank.z[idx]
            anchor_seen = torch.stack([a.read(bank.probs[idx])[0] for a in attrs], 1)
        named = {a for w in (wants or []) for a in w}
        context_attrs = [a for a, attr in enumerate(attrs) if not attr.free or a in named]
        # A context too narrow drops its last attribute first: those the expression never names.
        context_attrs.sort(key=lambda a: a not in named)
        matcher = _Matcher(bank, attrs) if bank is not None else None
        # What the other terms ask alike cancels in their sum ("- neutral woman + neutral man" says
        # nothing about smiling): such attributes are taken from the anchor instead, so the
        # difference is measured where the anchor is, not in another context.
        later = {i: dict(own_of.get(i, {})) for i in range(1, len(terms)) if terms[i].phrase not in defined}
        for a in {a for w in later.values() for a in w}:
            weight: dict[int, float] = {}
            for i, w in later.items():
                if a in w:
                    weight[w[a]] = weight.get(w[a], 0.0) + terms[i].coef
            if all(abs(x) < 1e-9 for x in weight.values()):
                for w in later.values():
                    w.pop(a, None)
        result_z, term_z = [], None
        for j, za in enumerate(anchors):
            context = {a: int(anchor_seen[j, a]) for a in context_attrs} if anchor_seen is not None else {}
            step = torch.zeros_like(za)
            row_concepts, row_wants = [Concept(first.phrase, za, 1, 1.0)], [dict(context) | own_of.get(0, {})]
            row_exemplars = [anchors[:EXEMPLARS]]
            for i, t in enumerate(terms[1:], 1):
                if t.phrase in defined:
                    z = z_from_seeds(cfg, defined[t.phrase])
                    k, members = Concept(t.phrase, z.mean(0), len(z), 1.0), z
                    row_wants.append({})
                else:
                    own = later[i]
                    ctx = {a: v for a, v in context.items() if a not in own}
                    k, chosen, dropped = matcher.concept(t.phrase, own, ctx)
                    members = bank.z[chosen[torch.randperm(len(chosen), generator=torch.Generator().manual_seed(seed + i))[:EXEMPLARS]]]
                    row_wants.append(own | {a: v for a, v in ctx.items() if attrs[a].name not in dropped})
                    if j == 0:
                        notes[i] = {"asked": describe(row_wants[-1], attrs), "relaxed": dropped}
                step = step + t.coef * k.z
                row_concepts.append(k)
                row_exemplars.append(members)
            result_z.append(za + step)
            if j == 0:
                concepts, exemplars = row_concepts, row_exemplars
                term_z = torch.stack([za] + [k.z for k in row_concepts[1:]])
            if wants is not None and anchor_seen is not None:
                expected.append(expected_values([t.coef for t in terms], row_wants, attrs))
                start.append(row_wants[0])
        result_z = torch.stack(result_z)
    result_images = generate(G, result_z)
    term_images = generate(G, term_z)
    exemplar_images = [generate(G, z) for z in exemplars]
    report: dict[str, Any] = {"expression": expression, "method": method, "checkpoint": str(c.path), "step": c.step, "terms": [],
                              "results": [], "attribute_model_accuracy": None}
    for i, (t, k) in enumerate(zip(terms, concepts)):
        how = "seeds" if t.phrase in defined else "samples"
        entry = {"phrase": t.phrase, "coef": t.coef, "count": k.count, "confidence": round(k.confidence, 4), "from": how}
        if method == "anchored" and i == 0:
            entry |= {"role": "anchor", "anchors": len(result_z)}
        report["terms"].append(entry | notes[i])
    match: list[bool | None] = [None] * len(result_images)
    if bank is not None:
        probs = bank.attr_model.predict(result_images.to(device))
        seen = torch.stack([a.read(probs)[0] for a in attrs], 1)
        report |= {"attribute_model_accuracy": bank.accuracy, "attribute_model_heldout": bank.heldout,
                   "result_attributes": {n: round(float(p), 3) for n, p in zip(bank.attr_model.label_names, probs[0]) if p > 0.5}}
        for r in range(len(result_images)):
            entry = {"image": r, "seen": {a.name: a.values[int(seen[r, i])] for i, a in enumerate(attrs)}}
            if expected:
                v = verdicts(expected[r], start[r], seen[r], attrs)
                match[r] = all(x["match"] for x in v.values())
                entry |= {"expected": {n: x["expected"] for n, x in v.items()}, "match": {n: x["match"] for n, x in v.items()},
                          "verdicts": {n: x["verdict"] for n, x in v.items()}, "moved": {n: x["moved"] for n, x in v.items()},
                          "all_match": match[r]}
            report["results"].append(entry)
        if expected:
            report["summary"] = summarise(report["results"])
    return ArithmeticResult(expression, method, terms, concepts, term_images, exemplar_images, result_images, match,
                            result_z, anchors if method == "anchored" else None, report, bank)


def summarise(results: list[dict]) -> dict[str, dict]:
    """Per attribute over the result images: how many show the expected value, and the verdict of most."""
    out: dict[str, dict] = {}
    for r in results:
        for name, ok in r.get("match", {}).items():
            s = out.setdefault(name, {"expected": set(), "seen": {}, "match": 0, "of": 0, "moved": False})
            s["expected"].add(r["expected"][name])
            s["seen"][r["seen"][name]] = s["seen"].get(r["seen"][name], 0) + 1
            s["match"] += int(ok)
            s["of"] += 1
            s["moved"] |= r["moved"][name]
    for s in out.values():
        s["expected"] = sorted(s["expected"])
    return out


from .arithmetic_figure import figure  # noqa: E402, F401  (re-exported: the API names it dcgan_cli.arithmetic_figure)
