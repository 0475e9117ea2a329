"""The DCGAN update itself (Radford et al.): the two losses, one training step, the EMA of G.

Small named functions, as the training loop and the benchmarks call them; nothing here knows
about run folders, logging or processes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core.configs import TrainConfig
from .precision import Precision


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


def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z_batches: list[torch.Tensor],
    *,
    real_target: float = 1.0,
    instance_noise: tuple[torch.Tensor, torch.Tensor] | None = None,
    precision: Precision | None = None,
    d_params: list[nn.Parameter] | None = None,
    d_local: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    loss: str = "nonsaturating",
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    r1: float = 0.0,
) -> dict[str, torch.Tensor]:
    """One D update, then len(z_batches) G updates. Returns detached 0-d tensors for logging.

    D sees the real and the fake batch in separate forward passes, as in the paper's code:
    mixing them in one batch would let batch norm statistics leak which half is real.
    `instance_noise` (real, fake) is added to D's real and fake inputs in the D update.
    During the G updates D's weights need no gradient: `d_params` (D's parameters) are frozen
    there, and `d_local` (a data-parallel D's no_sync) keeps it from averaging gradients it has not got.
    `loss` names the objective (OBJECTIVES); `augment` is applied to every batch D sees, real and fake;
    `r1` > 0 adds r1 / 2 times the R1 penalty on the (augmented) real batch to D's loss.
    """
    amp = precision or Precision("fp32", real.device)
    d_objective, g_objective = OBJECTIVES[loss]
    seen = augment or (lambda x: x)
    with amp.autocast():
        fake = G(z_batches[0])
        real_in, fake_in = (
            (real, fake.detach()) if instance_noise is None else (real + instance_noise[0], fake.detach() + instance_noise[1])
        )
        real_in, fake_in = seen(real_in), seen(fake_in)
        if r1 > 0:
            real_in = real_in.detach().requires_grad_(True)
        real_logits = D(real_in)
        fake_logits = D(fake_in)
        loss_d = d_objective(real_logits.float(), fake_logits.float(), real_target)
        if r1 > 0:
            loss_d = loss_d + (r1 / 2) * r1_penalty(real_in, real_logits)
    opt_d.zero_grad(set_to_none=True)
    amp.step("d", loss_d, opt_d)

    frozen = d_params if d_params is not None else list(D.parameters())
    loss_g = _g_updates(G, D, opt_g, fake, z_batches, lambda x: g_objective(D(seen(x)).float()), amp, frozen, d_local)
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_x": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_g_z": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


def _g_updates(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, fake: torch.Tensor, z_batches: list[torch.Tensor],
               objective: Callable[[torch.Tensor], torch.Tensor], amp: Precision, frozen: list[nn.Parameter],
               d_local: Callable[[], contextlib.AbstractContextManager]) -> torch.Tensor:
    """G's updates through a frozen D: the first on the D step's fake batch, the others on new ones."""
    for p in frozen:
        p.requires_grad_(False)
    try:
        with d_local():
            for i, z in enumerate(z_batches):
                with amp.autocast():
                    if i > 0:
                        fake = G(z)
                    loss_g = objective(fake)
                opt_g.zero_grad(set_to_none=True)
                amp.step("g", loss_g, opt_g)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return loss_g


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
