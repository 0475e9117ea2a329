"""The pieces of the DCGAN update (Radford et al.) that training/loop.py's `train_step` puts together: the
losses of each objective, the R1 penalty, the optimisers and their schedules, the epoch order, the EMA of G.

Small named functions; nothing here knows about run folders, logging or processes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.configs import TrainConfig


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), from logits for numerical stability. real_target < 1 is
    one-sided label smoothing (Salimans et al. 2016): only the real side is softened."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, real_target)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating generator loss of Goodfellow et al."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """max(0, m - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018); label smoothing
    narrows the real side's margin m to 2 * real_target - 1, as it softens the logistic target."""
    return F.relu((2 * real_target - 1) - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


# The (D, G) loss functions of each objective core/configs.py's LOSSES names (the one list of names).
OBJECTIVES = {"nonsaturating": (d_loss, g_nonsaturating_loss), "hinge": (d_hinge_loss, g_hinge_loss)}


def r1_penalty(real_in: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ||d D(x) / d x||^2 (Mescheder et al. 2018), differentiable in D's weights."""
    (grad,) = torch.autograd.grad(real_logits.float().sum(), real_in, create_graph=True)
    return grad.float().square().sum(dim=(1, 2, 3)).mean()


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The image order of one epoch, a function of (seed, epoch) alone so a resume needs no state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def make_optimizers(G: nn.Module, D: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    d_betas = (cfg.beta1 if cfg.d_beta1 is None else cfg.d_beta1, cfg.beta2 if cfg.d_beta2 is None else cfg.d_beta2)
    return (torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2)),
            torch.optim.Adam(D.parameters(), lr=d_learning_rate(cfg), betas=d_betas))


def d_learning_rate(cfg: TrainConfig) -> float:
    return cfg.d_lr if cfg.d_lr is not None else cfg.lr


def lr_factor(schedule: str, step: int, total: int) -> float:
    """Both learning rates are their base value times this at `step` of `total`: a function of
    the step alone, so a resumed run follows the same schedule (an extended one stretches it)."""
    t = min(1.0, step / max(1, total))
    if schedule == "linear":
        return 1.0 - t
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    return 1.0


def set_learning_rates(opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, cfg: TrainConfig, factor: float) -> None:
    for opt, base in ((opt_g, cfg.lr), (opt_d, d_learning_rate(cfg))):
        for group in opt.param_groups:
            group["lr"] = base * factor


def ema_decay_at(cfg: TrainConfig, step: int, images_per_step: int) -> float:
    """The EMA's decay after `step` updates. With ema_kimg, the decay whose half-life is that many
    thousand images (at most ema_rampup of the images shown so far, so early averages forget
    their random start); else ema_decay, warmed up the same way by a step count."""
    if cfg.ema_kimg is not None:
        half_life = cfg.ema_kimg * 1000
        if cfg.ema_rampup is not None:
            half_life = min(half_life, (step + 1) * images_per_step * cfg.ema_rampup)
        return 0.5 ** (images_per_step / max(half_life, 1e-8))
    return min(cfg.ema_decay, (1 + step) / (10 + step))


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for weights; batch-norm statistics copied from G."""
    for pe, p in zip(G_ema.parameters(), G.parameters()):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(G_ema.buffers(), G.buffers()):
        be.copy_(b)
