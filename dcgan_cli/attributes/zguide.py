"""The guide on z: a small classifier that reads every attribute from z alone, trained on the labelled
sample bank, and the normalised gradient steps that move a z by what it reads.

Arithmetic's guided edit (vector_arithmetic/edits.py) and the concept sliders (latent/steer.py) both
follow it, so it lives below both. A step goes up a goal (the log-probability of what is asked) held near
where G was trained: |z| near the prior's shell, and a pull toward where the z started. The guide is read
around z (noise of SMOOTH, 4 draws), so what it reads must hold in a neighbourhood, not at a point.
"""

from __future__ import annotations

import hashlib
import json
import math

import torch
from torch import nn

from ..core.fitting import half_cosine, minimise
from ..core.progress import Progress, phase
from ..core.tensor_cache import read_cached, write_cached
from .bank import SampleBank
from .expectations import Attribute

SMOOTH = 0.7  # std of the noise the guide is read around z with, as a share of z_scale
DRAWS = 4  # noise draws per reading
STEP = 0.01  # each step's length, as a share of the prior's typical |z|
GUIDE_VERSION = 1  # part of a cached guide's key: change it when train_guide changes, and cached guides retrain


class ZClassifier(nn.Module):
    """z (B, nz) -> logits (B, A) of every label: the guide the 'guided' edit follows."""

    def __init__(self, nz: int, labels: int, width: int = 256):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(nz, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, labels))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def value_log_probs(logits: torch.Tensor, attr: Attribute) -> torch.Tensor:
    """(B, len(values)) log-probabilities of an attribute's values from label logits."""
    if attr.free:
        x = logits[:, attr.columns[0]]
        return torch.stack([nn.functional.logsigmoid(-x), nn.functional.logsigmoid(x)], 1)
    return torch.log_softmax(logits[:, list(attr.columns)], 1)


def train_guide(bank: SampleBank, attrs: list[Attribute], seed: int = 0, epochs: int = 30,
                on_progress: Progress | None = None) -> ZClassifier:
    """Fit the z classifier to the bank's soft labels (cross-entropy per attribute); its own seed."""
    z, probs = bank.z.float(), bank.probs.float()
    per_epoch = math.ceil(len(z) / 256)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:  # cross-entropy against the bank's soft labels, per attribute
        logits = guide(z[idx])
        return sum(-(a.value_probs(probs[idx]) * value_log_probs(logits, a)).sum(1).mean() for a in attrs)

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        guide = ZClassifier(z.shape[1], probs.shape[1])
        opt = torch.optim.Adam(guide.parameters(), lr=2e-3, weight_decay=1e-4)
        g = torch.Generator().manual_seed(seed)
        batches = (idx for _ in range(epochs) for idx in torch.randperm(len(z), generator=g).split(256))
        minimise(opt, batches, epochs * per_epoch, loss_of, lr_at=half_cosine(2e-3, epochs, per_epoch),
                 on_progress=on_progress)
    return guide.eval()


def guide_label(bank: SampleBank) -> str:
    """What first use is doing while the guide trains, said before it starts."""
    return f"training the guide on z, once per bank (30 epochs of its {len(bank.z):,} z; then cached)"


def guide_for(bank: SampleBank, attrs: list[Attribute], on_progress: Progress | None = None) -> ZClassifier:
    """The bank's z classifier: from its cache beside the bank, or trained now and kept (a minute on 2 CPU cores
    for 16,384 z); `on_progress` hears of it only when it trains."""
    key = hashlib.sha256(json.dumps([bank.path.name, GUIDE_VERSION, [a.name for a in attrs]]).encode()).hexdigest()[:12]
    path = bank.path.with_name(f"{bank.path.stem}-guide-{key}.safetensors")
    found = read_cached(path, lambda t, meta: meta.get("key") == key)
    if found is not None:
        guide = ZClassifier(bank.z.shape[1], bank.probs.shape[1])
        try:
            guide.load_state_dict(found[0])
            return guide.eval()
        except RuntimeError:
            pass
    guide = train_guide(bank, attrs, on_progress=phase(on_progress, guide_label(bank)))
    write_cached(path, guide.state_dict(), {"key": key}, what="z classifier")
    return guide


def held_near(z: torch.Tensor, z0: torch.Tensor, cfg) -> torch.Tensor:
    """(R,) what keeps an edited z (R, nz) where G was trained: |z| near the prior's shell (normal z), and
    a pull toward where it started (z0)."""
    prior = (z.pow(2).mean(1) / cfg.z_scale**2 - 1).pow(2) if cfg.z_dist == "normal" else torch.zeros(len(z))
    return prior + 0.1 * (z - z0).pow(2).mean(1) / cfg.z_scale**2


def read_around(guide: nn.Module, z: torch.Tensor, noise: torch.Generator, cfg) -> torch.Tensor:
    """(DRAWS, R, labels) the guide's logits at z (R, nz) plus noise of std SMOOTH * z_scale."""
    eps = torch.randn((DRAWS, *z.shape), generator=noise) * SMOOTH * cfg.z_scale
    return guide((z[None] + eps).reshape(-1, z.shape[1])).view(DRAWS, len(z), -1)


def step_up(z: torch.Tensor, z0: torch.Tensor, goal: torch.Tensor, cfg, moving: torch.Tensor | None = None) -> None:
    """One step of z (R, nz, requiring grad), in place: up `goal` (R,) and held near the prior and z0, each row's
    step STEP of a typical |z| long whatever the gradient's size; rows where `moving` is False stay.
    Normalised gradient steps, not Adam: Adam scales every coordinate to the same step, so z drifts as far
    along the guide's flat directions as along the one that matters."""
    (grad,) = torch.autograd.grad((-goal + held_near(z, z0, cfg)).sum(), z)
    length = STEP * cfg.z_scale * math.sqrt(z.shape[1])
    with torch.no_grad():
        step = length * grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-12)
        z -= step if moving is None else step * moving.float()[:, None]
        if cfg.z_dist == "uniform":
            z.clamp_(-cfg.z_scale, cfg.z_scale)
