"""Latent vector arithmetic over named concepts ("smiling woman - woman + man", paper fig. 7).

Holds the expression parser, the vocabulary (a data set's labels plus plain-English aliases),
and concept vectors: the mean z of generated samples that an attribute model, trained on the
real labelled images, confidently sees as matching a phrase. A bank of labelled samples is
cached next to the checkpoint, so a second expression costs no generation.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from .attributes import ATTRIBUTE_RECIPE, AttributeModel, AttributeNet, train_attribute_model
from .cache import ImageData
from .checkpoint import Checkpoint, atomic_write_bytes
from .errors import DcganError, UsageError
from .model import sample_z, z_from_seeds
from .sample import generate

# word -> (attribute, value). CelebA's 40 attributes by plain English name.
CELEBA_ALIASES: dict[str, tuple[str, int]] = {
    "smiling": ("Smiling", 1), "smile": ("Smiling", 1), "neutral": ("Smiling", 0),
    "man": ("Male", 1), "male": ("Male", 1), "men": ("Male", 1), "woman": ("Male", 0), "female": ("Male", 0), "women": ("Male", 0),
    "glasses": ("Eyeglasses", 1), "eyeglasses": ("Eyeglasses", 1), "blond": ("Blond_Hair", 1), "blonde": ("Blond_Hair", 1),
    "bald": ("Bald", 1), "beard": ("No_Beard", 0), "bearded": ("No_Beard", 0), "beardless": ("No_Beard", 1),
    "mustache": ("Mustache", 1), "moustache": ("Mustache", 1), "hat": ("Wearing_Hat", 1), "young": ("Young", 1),
    "old": ("Young", 0), "lipstick": ("Wearing_Lipstick", 1), "bangs": ("Bangs", 1), "makeup": ("Heavy_Makeup", 1),
    "goatee": ("Goatee", 1), "earrings": ("Wearing_Earrings", 1), "necklace": ("Wearing_Necklace", 1),
    "necktie": ("Wearing_Necktie", 1), "tie": ("Wearing_Necktie", 1), "pale": ("Pale_Skin", 1), "chubby": ("Chubby", 1),
    "attractive": ("Attractive", 1), "sideburns": ("Sideburns", 1), "brunette": ("Brown_Hair", 1),
}

_TOKEN = re.compile(r"\s*(?:(?P<op>[+-])|(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<word>[A-Za-z][A-Za-z0-9_']*)|(?P<bad>\S))")


@dataclass(frozen=True)
class Term:
    coef: float  # sign included
    words: tuple[str, ...]
    pos: int  # 1-based column where the term starts

    @property
    def phrase(self) -> str:
        return " ".join(self.words)


class ParseError(UsageError):
    pass


def parse_expression(text: str) -> list[Term]:
    """'smiling woman - 0.5 woman + man' -> terms. Errors name the 1-based column."""
    tokens = [(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup) + 1) for m in _TOKEN.finditer(text) if m.lastgroup]
    if not tokens:
        raise ParseError("the expression is empty; write e.g. \"smiling woman - woman + man\"")
    terms: list[Term] = []
    sign, i = 1.0, 0

    def fail(msg: str, col: int) -> ParseError:
        return ParseError(f"{msg} at column {col} of {text!r}")

    if tokens[0][0] == "op":
        sign = -1.0 if tokens[0][1] == "-" else 1.0
        i = 1
    while True:
        if i >= len(tokens):
            raise fail("expected a concept after the operator", len(text) + 1)
        kind, value, col = tokens[i]
        start = col
        coef = 1.0
        if kind == "num":
            coef = float(value)
            i += 1
            if i >= len(tokens):
                raise fail(f"expected a concept after the number {value}", len(text) + 1)
            kind, value, col = tokens[i]
        if kind == "bad":
            raise fail(f"unexpected character {value!r}", col)
        if kind != "word":
            raise fail(f"expected a concept word, found {value!r}", col)
        words: list[str] = []
        while i < len(tokens) and tokens[i][0] == "word":
            words.append(tokens[i][1].lower())
            i += 1
        terms.append(Term(sign * coef, tuple(words), start))
        if i == len(tokens):
            return terms
        kind, value, col = tokens[i]
        if kind == "bad":
            raise fail(f"unexpected character {value!r}", col)
        if kind != "op":
            raise fail(f"expected + or -, found {value!r}", col)
        sign = -1.0 if value == "-" else 1.0
        i += 1


def vocabulary(dataset: str, label_names: list[str]) -> dict[str, tuple[int, int]]:
    """word -> (label column, value). Every label name (lower case) means 'this label is on'."""
    vocab: dict[str, tuple[int, int]] = {name.lower(): (j, 1) for j, name in enumerate(label_names)}
    if dataset == "celeba":
        for word, (attr, value) in CELEBA_ALIASES.items():
            if attr in label_names:
                vocab.setdefault(word, (label_names.index(attr), value))
    if dataset in ("mnist", "svhn"):
        vocab |= {str(d): (d, 1) for d in range(10) if d < len(label_names)}
    return vocab


def phrase_constraints(terms: list[Term], vocab: dict[str, tuple[int, int]]) -> list[dict[int, int]]:
    """Each term's required label values. A phrase fixes every attribute named anywhere in the
    expression: what it does not name is held 'off' (the paper's neutral woman)."""
    for t in terms:
        for w in t.words:
            if w not in vocab:
                close = difflib.get_close_matches(w, vocab, n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UsageError(f"unknown concept word {w!r}{hint} Known words: {', '.join(sorted(vocab))}")
    named = sorted({vocab[w][0] for t in terms for w in t.words})
    out = []
    for t in terms:
        want = {col: 0 for col in named}
        for w in t.words:
            col, value = vocab[w]
            want[col] = value
        out.append(want)
    return out


@dataclass
class SampleBank:
    """Generated samples labelled by the attribute model: z (M, nz), probabilities (M, A)."""

    z: torch.Tensor
    probs: torch.Tensor
    accuracy: float
    heldout: int
    attr_model: AttributeModel


def bank_path(ckpt: Checkpoint, label_names: list[str], n: int, seed: int, attr_images: int, data_key: str = "") -> Path:
    # data_key names the prepared data (its cache folder holds the source fingerprint): a rebuilt
    # data set must not reuse an attribute model trained on the old one.
    key = [ckpt.path.name, ckpt.step, ckpt.path.stat().st_size, label_names, n, seed, attr_images, data_key, ATTRIBUTE_RECIPE]
    key = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:12]
    return ckpt.path.parent.parent / "concepts" / f"{ckpt.path.stem}-{key}.safetensors"


def sample_bank(ckpt: Checkpoint, data: ImageData, *, n: int = 4096, seed: int = 0,
                attr_images: int = 30_000, device: torch.device | str = "cpu") -> SampleBank:
    """Load the cached bank for (checkpoint, data, vocabulary), or build it: train the attribute
    model on the data's real labelled images, generate n samples and label them."""
    images, labels, label_names = data.images, data.labels, data.label_names
    path = bank_path(ckpt, label_names, n, seed, attr_images, data.cache_dir.name if data.cache_dir else "")
    channels = ckpt.model_config.nc
    if path.exists():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads(f.metadata()["concepts"])
                t = {k: f.get_tensor(k) for k in f.keys()}
            net = AttributeNet(channels, len(label_names))
            net.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net/")})
            am = AttributeModel(net.to(device).eval(), label_names, meta["accuracy"], meta["heldout"])
            return SampleBank(t["z"], t["probs"], meta["accuracy"], meta["heldout"], am)
        except Exception:
            path.unlink()  # a damaged cache is rebuilt, never trusted
    if labels is None:
        raise UsageError("this data set has no labels; define concepts from seeds with --define 'phrase=12,45,77'")
    am = train_attribute_model(images, labels, label_names, seed=seed, max_images=attr_images, device=device)
    G = ckpt.generator(device)
    z = sample_z(ckpt.model_config, n, torch.Generator().manual_seed(seed))
    probs = am.predict(generate(G, z))
    tensors = {"z": z, "probs": probs} | {f"net/{k}": v.detach().cpu().contiguous() for k, v in am.net.state_dict().items()}
    meta = {"accuracy": am.accuracy, "heldout": am.heldout, "label_names": label_names, "checkpoint": str(ckpt.path)}
    atomic_write_bytes(path, st_save(tensors, metadata={"concepts": json.dumps(meta)}))
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
    from .sample import parse_seeds

    if "=" not in text:
        raise UsageError(f"--define {text!r}: write 'phrase=seed,seed,...', e.g. 'smiling woman=12,45,77'")
    phrase, seeds = text.split("=", 1)
    phrase = " ".join(phrase.lower().split())
    if not phrase:
        raise UsageError(f"--define {text!r}: the phrase before '=' is empty")
    return phrase, parse_seeds(seeds)


def typical_norm(cfg) -> float:
    """E||z|| under the prior: sqrt(nz) * std for normal z, sqrt(nz / 3) * half-width for uniform."""
    return cfg.z_scale * (cfg.nz if cfg.z_dist == "normal" else cfg.nz / 3) ** 0.5


def to_prior_shell(z: torch.Tensor, cfg) -> torch.Tensor:
    """Scale vectors (..., nz) to the prior's typical norm. A mean of many z is much shorter than any
    sample (by sqrt of the count), and G has never seen such short inputs: keep the direction only."""
    return z * (typical_norm(cfg) / z.norm(dim=-1, keepdim=True).clamp_min(1e-8))


def combine(terms: list[Term], concepts: list[Concept]) -> torch.Tensor:
    """sum_i coef_i * z_i: the result vector (nz,)."""
    return sum(t.coef * c.z for t, c in zip(terms, concepts))


def result_vectors(terms: list[Term], concepts: list[Concept], cfg, *, variants: int = 8, seed: int = 0,
                   noise: float = 0.25, rescale: bool = True) -> torch.Tensor:
    """The result vector and `variants` noisy copies of it (1 + variants, nz), as G should see them."""
    r = combine(terms, concepts)
    if rescale:
        r = to_prior_shell(r, cfg)
    eps = torch.randn(variants, r.shape[0], generator=torch.Generator().manual_seed(seed)) * noise * cfg.z_scale
    return torch.cat([r[None], r[None] + eps])
