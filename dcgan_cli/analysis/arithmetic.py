"""Latent vector arithmetic over named concepts ("smiling woman - woman + man", paper fig. 7).

Concept vectors are the mean z of generated samples that an attribute model, trained on the
real labelled images, confidently sees as matching a phrase. A bank of labelled samples is
cached in the run folder, so a second expression costs no generation. `run` is the whole
recipe, for the CLI, the benchmark and Python users alike; `figure` draws its result.
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
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save as st_save

from ..checkpoint import Checkpoint, as_checkpoint
from ..data import ImageData, checkpoint_data
from ..errors import DcganError, UsageError
from ..files import write_bytes
from ..model import sample_z, z_from_seeds
from ..runs import RunFolder
from .attributes import ATTRIBUTE_RECIPE, AttributeModel, AttributeNet, train_attribute_model
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


def concept_from_bank(bank: SampleBank, phrase: str, want: dict[int, int], *, threshold: float = 0.8, min_count: int = 8) -> Concept:
    """Average z of the samples whose predicted labels match `want` with confidence >= threshold."""
    score = torch.ones(bank.probs.shape[0])
    for col, value in want.items():
        p = bank.probs[:, col]
        score = score * (p if value else 1 - p)
    chosen = (score >= threshold).nonzero().view(-1)
    if chosen.numel() < min_count:
        chosen = score.argsort(descending=True)[:min_count]
        if float(score[chosen].min()) < 0.5:
            raise DcganError(
                f"too few generated samples look like {phrase!r} (best match scores {float(score[chosen[0]]):.2f}); "
                "train longer, or define it by hand with --define"
            )
    return Concept(phrase, bank.z[chosen].mean(0), int(chosen.numel()), float(score[chosen].mean()))


def concept_from_seeds(cfg, phrase: str, seeds: list[int]) -> Concept:
    return Concept(phrase, z_from_seeds(cfg, seeds).mean(0), len(seeds), 1.0)


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


def result_vectors(terms: list[Term], concepts: list[Concept], cfg, *, variants: int = 8, seed: int = 0,
                   noise: float = 0.25, rescale: bool = True) -> torch.Tensor:
    """The result vector and `variants` noisy copies of it (1 + variants, nz), as G should see them."""
    r = combine(terms, concepts)
    if rescale:
        r = to_prior_shell(r, cfg)
    eps = torch.randn(variants, r.shape[0], generator=torch.Generator().manual_seed(seed)) * noise * cfg.z_scale
    return torch.cat([r[None], r[None] + eps])


@dataclass
class ArithmeticResult:
    expression: str
    terms: list[Term]
    concepts: list[Concept]
    term_images: torch.Tensor  # (T, C, H, W) in [-1, 1]: each term's mean vector drawn
    result_images: torch.Tensor  # (1 + variants, C, H, W): the result, then its noisy variants
    report: dict[str, Any] = field(default_factory=dict)  # JSON-able: terms, attributes seen, accuracy
    bank: SampleBank | None = None


def run(
    ckpt: Checkpoint | str | Path | None,
    expression: str,
    *,
    defines: dict[str, list[int]] | None = None,
    data: ImageData | None = None,
    samples: int = 4096,
    attr_images: int = 30_000,
    variants: int = 8,
    seed: int = 0,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> ArithmeticResult:
    """Evaluate `expression` on a checkpoint: concept vectors, result vector, images, a report.

    Phrases in `defines` are means of the given seeds; the others are found in a labelled
    sample bank (built on first use, then cached), which needs the data set's labels.
    """
    terms = parse_expression(expression)
    for t in terms:
        if not math.isfinite(t.coef) or abs(t.coef) > 1e6:
            raise UsageError(f"the coefficient {t.coef:g} of {t.phrase!r} is out of range; use numbers up to 1e6")
    if not 0 <= variants <= 1024 or not 16 <= samples <= 1_000_000 or attr_images < 20:
        raise UsageError("--variants must be 0 to 1024, --samples 16 to 1,000,000 and --attr-images at least 20")
    c = as_checkpoint(ckpt)
    defined = dict(defines or {})
    todo = [t for t in terms if t.phrase not in defined]
    concepts: dict[str, Concept] = {p: concept_from_seeds(c.model_config, p, s) for p, s in defined.items()}
    bank = None
    if todo:
        label_names = c.dataset.get("label_names") or []
        if not label_names:
            missing = ", ".join(repr(t.phrase) for t in todo)
            raise UsageError(f"this data set has no labels, so {missing} cannot be found; define it from seeds with --define 'phrase=12,45,77'")
        wants = phrase_constraints(todo, vocabulary(c.dataset.get("name", ""), label_names))
        if data is None:
            data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
        if data.label_names != label_names:
            raise DcganError(f"the data in {data.cache_dir} has other labels than the checkpoint records; pass the data set it was trained on")
        bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema, on_progress=on_progress)
        for t, want in zip(todo, wants):
            concepts[t.phrase] = concept_from_bank(bank, t.phrase, want)
    chosen = [concepts[t.phrase] for t in terms]
    G = c.generator(device, ema=ema)
    term_images = generate(G, torch.stack([k.z for k in chosen]))
    result_images = generate(G, result_vectors(terms, chosen, c.model_config, variants=variants, seed=seed))
    report: dict[str, Any] = {"expression": expression, "checkpoint": str(c.path), "step": c.step, "terms": [],
                              "result_attributes": None, "attribute_model_accuracy": None}
    for t, k in zip(terms, chosen):
        report["terms"].append({"phrase": t.phrase, "coef": t.coef, "count": k.count, "confidence": round(k.confidence, 4),
                                "from": "seeds" if t.phrase in defined else "samples"})
    if bank is not None:
        probs = bank.attr_model.predict(result_images.to(device))  # (1 + variants, A)
        names = bank.attr_model.label_names
        share = probs.gt(0.5).float().mean(0)
        report |= {
            "result_attributes": {n: round(float(p), 3) for n, p in zip(names, probs[0]) if p > 0.5},
            "variant_share": {n: round(float(s), 3) for n, s in zip(names, share) if s > 0},
            "attribute_model_accuracy": bank.accuracy, "attribute_model_heldout": bank.heldout,
        }
    return ArithmeticResult(expression, terms, chosen, term_images, result_images, report, bank)


def figure(result: ArithmeticResult) -> Image.Image:
    """Row 1: each term's mean image, then the result; row 2: the variants."""
    from ..images import grid_image

    terms, variants = result.term_images, result.result_images[1:]
    width = max(len(terms) + 1, variants.shape[0])
    blank = -torch.ones_like(terms[:1])
    row1 = torch.cat([terms, result.result_images[:1], blank.repeat(width - len(terms) - 1, 1, 1, 1)])
    row2 = torch.cat([variants, blank.repeat(width - variants.shape[0], 1, 1, 1)]) if variants.shape[0] else blank[:0]
    return grid_image(torch.cat([row1, row2]), nrow=width)
