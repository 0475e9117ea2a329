"""The DCGAN update itself (Radford et al.): the two losses, one training step, the EMA of G.

Small named functions, as the training loop and the benchmarks call them; nothing here knows
about run folders, logging or processes.
"""

from __future__ import annotations

import contextlib
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
) -> dict[str, torch.Tensor]:
    """One D update, then len(z_batches) G updates. Returns detached 0-d tensors for logging.

    D sees the real and the fake batch in separate forward passes, as in the paper's code:
    mixing them in one batch would let batch norm statistics leak which half is real.
    `instance_noise` (real, fake) is added to D's real and fake inputs in the D update.
    During the G updates D's weights need no gradient: `d_params` (D's parameters) are frozen
    there, and `d_local` (a data-parallel D's no_sync) keeps it from averaging gradients it has not got.
    """
    amp = precision or Precision("fp32", real.device)
    with amp.autocast():
        fake = G(z_batches[0])
        real_in, fake_in = (
            (real, fake.detach()) if instance_noise is None else (real + instance_noise[0], fake.detach() + instance_noise[1])
        )
        real_logits = D(real_in)
        fake_logits = D(fake_in)
        loss_d = d_loss(real_logits.float(), fake_logits.float(), real_target)
    opt_d.zero_grad(set_to_none=True)
    amp.step("d", loss_d, opt_d)

    frozen = d_params if d_params is not None else list(D.parameters())
    for p in frozen:
        p.requires_grad_(False)
    try:
        with d_local():
            for i, z in enumerate(z_batches):
                with amp.autocast():
                    if i > 0:
                        fake = G(z)
                    loss_g = g_nonsaturating_loss(D(fake).float())
                opt_g.zero_grad(set_to_none=True)
                amp.step("g", loss_g, opt_g)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_x": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_g_z": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The image order of one epoch, a function of (seed, epoch) alone so a resume needs no state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def make_optimizers(G: nn.Module, D: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    betas = (cfg.beta1, cfg.beta2)
    d_lr = cfg.d_lr if cfg.d_lr is not None else cfg.lr
    return torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas), torch.optim.Adam(D.parameters(), lr=d_lr, betas=betas)


def ema_decay_at(cfg: TrainConfig, step: int) -> float:
    """The EMA's decay after `step` updates: warmed up, so early averages are not stuck at init."""
    return min(cfg.ema_decay, (1 + step) / (10 + step))


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for weights; batch-norm statistics copied from G."""
    for pe, p in zip(G_ema.parameters(), G.parameters()):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(G_ema.buffers(), G.buffers()):
        be.copy_(b)
