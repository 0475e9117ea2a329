"""`dcgan arithmetic`: latent vector arithmetic over named concepts ("smiling woman - woman + man",
paper fig. 7), with a verdict per attribute.

Concept vectors come from the labelled sample bank (attributes/bank.py: generated samples that the
data set's classifier confidently sees as matching a phrase), or from seeds the user names with
--define. One of the five methods (table.py) turns the expression into result vectors; G draws
them, and the same classifier judges each result, attribute by attribute. `arithmetic()` is the
whole recipe, for the CLI, the explorer, the benchmark and Python users alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..attributes.bank import MAX_SAMPLES, MIN_SAMPLES, SampleBank, check_labels, sample_bank
from ..attributes.expectations import CONFIDENT, attributes_of, judge, match_score
from ..attributes.phrases import DIGIT_LABELLED, Term, parse_expression, phrase_constraints, term_wants, vocabulary
from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.defaults import ATTRIBUTE_IMAGES, BANK_SAMPLES, VARIANTS
from ..core.errors import UsageError
from ..core.files import check_folder_path
from ..core.generation import generate
from ..core.progress import Progress
from ..core.seeds import check_seed, parse_seeds
from ..data import ImageData, checkpoint_data
from .methods import EXEMPLARS, Inputs, too_few
from .result import ArithmeticResult
from .separability import z_separability
from .table import METHODS


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


MAX_TERMS = 12  # a figure column each: beyond this the paper-layout figure is no longer a picture to read


def _check(terms: list[Term], method: str, variants: int, samples: int, attr_images: int) -> None:
    if method not in METHODS:
        raise UsageError(f"--method {method!r}: use one of {', '.join(METHODS)}")
    if len(terms) > MAX_TERMS:
        raise UsageError(f"the expression has {len(terms)} terms; at most {MAX_TERMS} (each is a column of the figure)")
    for t in terms:
        if not math.isfinite(t.coef) or abs(t.coef) > 1e6:
            raise UsageError(f"the coefficient {t.coef:.15g} of {t.phrase!r} is out of range; use numbers up to 1,000,000")
    if not 0 <= variants <= 1024 or not MIN_SAMPLES <= samples <= MAX_SAMPLES or attr_images < 20:
        raise UsageError("--variants must be 0 to 1024, --samples 16 to 1,000,000 and --attr-images at least 20")
    if METHODS[method].from_anchors and terms[0].coef != 1:
        raise UsageError(f"--method {method} starts from samples of the first term, so its coefficient must be 1 "
                         f"(it is {terms[0].coef:g}); use --method paper for other sums")


def _choose_method(c: Checkpoint, terms: list[Term], method: str | None, defined: dict[str, list[int]],
                   anchors: list[Path] | None) -> str:
    """The method asked, or the default: guided (the best measured) where it can serve, else anchored.
    Refuses a method that cannot serve this data set or these terms."""
    labelled = bool(c.dataset.label_names)
    if method is None:
        method = "guided" if labelled and not any(t.phrase in defined for t in terms[1:]) else "anchored"
    m = METHODS.get(method)
    if m is None:
        return method  # _check names the choices
    if anchors and not m.from_anchors:
        raise UsageError(f"--anchor gives the anchored and edit methods their starting points; --method {method} has none")
    if m.needs_labels and not labelled:
        raise UsageError(f"--method {method} moves z by what a guide on z learned from the data set's labels, and "
                         f"{(c.dataset.name or 'this data set')} has none; use --method anchored with --define")
    if m.needs_labels and any(t.phrase in defined for t in terms[1:]):
        raise UsageError(f"--method {method} moves attributes named by words of the data set's labels; a phrase "
                         "defined by seeds can only be the first term (or use --method anchored)")
    return method


@dataclass
class _Labelled:
    """What the labelled bank gives a method: the bank, the attributes, each vocabulary term's wants."""

    bank: SampleBank | None = None
    attrs: list = field(default_factory=list)
    own_of: dict[int, dict[int, int]] = field(default_factory=dict)
    wants: list[dict[int, int]] | None = None  # every term's, when every term is in the vocabulary


def _labelled(c: Checkpoint, terms: list[Term], method: str, defined: dict[str, list[int]], data: ImageData | None, *,
              samples: int, attr_images: int, seed: int, ema, device, data_root, cache_dir, on_progress) -> _Labelled:
    todo = [t for t in terms if t.phrase not in defined]
    if not todo:
        return _Labelled()
    label_names = c.dataset.label_names or []
    if not label_names:
        missing = ", ".join(repr(t.phrase) for t in todo)
        raise UsageError(f"this data set has no labels, so {missing} cannot be found; define it from seeds with "
                         "--define 'phrase=12,45,77'")
    vocab = vocabulary((c.dataset.name or ""), label_names)
    phrase_constraints(todo, vocab, (c.dataset.name or ""))  # an unknown word: one line naming the known ones
    if data is None:
        data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    check_labels(c, data)
    attrs = attributes_of(label_names, data.groups)
    known = [i for i, t in enumerate(terms) if all(w in vocab for w in t.words)]
    neutral = not METHODS[method].from_anchors
    own_of = dict(zip(known, term_wants([terms[i] for i in known], vocab, attrs, neutral=neutral)))
    bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema,
                       on_progress=on_progress, early=_none_show(terms, own_of, attrs, samples))
    wants = [own_of[i] for i in range(len(terms))] if len(known) == len(terms) else None
    return _Labelled(bank, attrs, own_of, wants)


def _none_show(terms: list[Term], own_of: dict, attrs, total: int):
    """The bank's early check: a later term that no sample of the first half shows confidently. Then
    the whole bank would hold at most about 6 (95%), fewer than the MIN_CONTEXT a term's mean needs,
    so it is said after half the labelling, not after all of it."""
    def check(probs: torch.Tensor) -> None:
        for i, t in enumerate(terms[1:], 1):
            if i not in own_of:
                continue
            score = match_score(probs, own_of[i], attrs)
            if int((score >= CONFIDENT).sum()) == 0:
                raise too_few(t.phrase, f"none of the first {len(probs):,} of {total:,} labelled samples, best match "
                                        f"{float(score.max()):.2f}; stopped there")
    return check


def _given_anchors(c: Checkpoint, G, ema, anchors: list[Path] | None, device):
    """--anchor: (R, nz) their z, (R, C, H, W) the pictures themselves (or G's drawing of a z file), their names."""
    if not anchors:
        return None, None, None
    from ..projection import latent_ends

    ends = latent_ends(c, G, c.generator_name(ema), list(anchors), flag="--anchor", device=device)
    photos = torch.stack([e.target if e.target is not None else generate(G, e.z[None])[0] for e in ends])
    return torch.stack([e.z for e in ends]), photos, [e.label for e in ends]


def arithmetic(
    ckpt: Checkpoint | str | Path | None,
    expression: str,
    *,
    method: str | None = None,
    defines: dict[str, list[int]] | None = None,
    data: ImageData | None = None,
    samples: int = BANK_SAMPLES,
    attr_images: int = ATTRIBUTE_IMAGES,
    variants: int = VARIANTS,
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
    c = as_checkpoint(ckpt)
    terms = parse_expression(expression, digit_words=(c.dataset.name or "") in DIGIT_LABELLED,
                             vocab=vocabulary((c.dataset.name or ""), c.dataset.label_names or []))
    defined = dict(defines or {})
    method = _choose_method(c, terms, method, defined, anchors)
    _check(terms, method, variants, samples, attr_images)
    check_seed(seed)
    if individual is not None:
        check_folder_path(individual, "--individual")
    lab = _labelled(c, terms, method, defined, data, samples=samples, attr_images=attr_images, seed=seed, ema=ema,
                    device=device, data_root=data_root, cache_dir=cache_dir, on_progress=on_progress)
    G = c.generator(device, ema=ema)
    anchor_z, photos, sources = _given_anchors(c, G, ema, anchors, device)
    inputs = Inputs(terms, c.model_config, defined, lab.bank, lab.attrs, lab.own_of, lab.wants, variants, seed, anchor_z,
                    on_progress=on_progress)

    def seen_of(z: torch.Tensor) -> torch.Tensor:  # (B, len(attrs)) the attribute values G's images of z show
        probs = lab.bank.classifier.predict(generate(G, z).to(device))
        return torch.stack([a.read(probs)[0] for a in lab.attrs], 1)

    plan = METHODS[method].plan(inputs, seen_of)
    result_images = generate(G, plan.result_z)
    verdict = None
    if lab.bank is not None:
        probs = lab.bank.classifier.predict(result_images.to(device))
        verdict = judge(probs, lab.bank.classifier.label_names, lab.attrs, plan.expected, plan.start)
    sep = z_separability(c, samples=samples, attr_images=attr_images, seed=seed, ema=ema, device=device,
                         data_root=data_root, cache_dir=cache_dir, on_progress=on_progress) if probe else None
    return ArithmeticResult(
        expression=expression, method=method, terms=terms, plan=plan, result_images=result_images, judgement=verdict,
        defined=set(defined), checkpoint_path=c.path, step=c.step, seed=seed, bank=lab.bank, individual=individual,
        classifier=lab.bank.classifier.describe() if lab.bank is not None else {}, separability=sep,
        anchor_sources=sources, **_pictures(G, plan, photos))


def _pictures(G, plan, photos: torch.Tensor | None) -> dict[str, Any]:
    """The figure's tiles: each term's vector drawn, its samples, and each result's anchor."""
    exemplar_images = [generate(G, z) for z in plan.exemplars]
    if photos is not None:  # the anchors' column shows the pictures themselves; its vector tile, G's reconstruction
        exemplar_images[0] = photos[:EXEMPLARS]
    return {"term_images": generate(G, plan.term_z), "exemplar_images": exemplar_images,
            "anchor_images": generate(G, plan.anchor_z) if plan.anchor_z is not None else None}
