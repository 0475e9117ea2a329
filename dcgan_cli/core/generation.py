"""Generating images: z or seeds in, images out, in batches that bound memory.

The one place that turns a generator and seeds into pictures, for every command, evaluation
and the training loop's grids: float images in [-1, 1], or uint8 as a saved picture holds them.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from .model import Generator, z_from_seeds
from .pixels import to_uint8
from .progress import Progress

BATCH = 256


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, batch_size: int = BATCH,
             on_progress: Progress | None = None) -> torch.Tensor:
    """Images (B, C, H, W) in [-1, 1] on the CPU, G in eval mode."""
    G.eval()
    device = next(G.parameters()).device
    out = []
    for i in range(0, z.shape[0], batch_size):
        out.append(G(z[i : i + batch_size].to(device)).cpu())
        if on_progress is not None:
            on_progress(min(i + batch_size, z.shape[0]), z.shape[0])
    return torch.cat(out) if out else torch.empty(0)


def truncate(z: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
    """The truncation trick: z pulled toward the prior's mean (0 for both priors) by psi; 1 leaves it."""
    return z if psi == 1.0 else z * psi


def check_truncation(psi: float) -> float:
    from .errors import UsageError

    if not 0.0 <= psi <= 2.0:
        raise UsageError(f"--trunc must be 0 to 2 (1: no truncation; 0.5-0.8 are usual), got {psi}")
    return psi


def z_around(cfg, base: int, seeds: list[int], radius: float) -> torch.Tensor:
    """Small steps around the z of seed `base`, one per seed: "more like this". A normal z becomes
    sqrt(1 - r^2) z_base + r z_seed (still a draw of the prior: the variance is kept); a uniform z
    moves by r z_seed, clamped to its box. radius 0 is the base itself, 1 an unrelated sample."""
    z0, dz = z_from_seeds(cfg, [base]), z_from_seeds(cfg, seeds)
    if cfg.z_dist == "normal":
        return (1 - radius**2) ** 0.5 * z0 + radius * dz
    return (z0 + radius * dz).clamp(-cfg.z_scale, cfg.z_scale)


def images_from_seeds(G: Generator, seeds: list[int], on_progress: Progress | None = None,
                      trunc: float = 1.0, around: tuple[int, float] | None = None) -> torch.Tensor:
    """Image i comes from seeds[i] alone, in any company: (len(seeds), C, H, W) in [-1, 1].
    `around` (base seed, radius): each seed is instead a small step around the base's z (z_around)."""
    z = z_from_seeds(G.cfg, seeds) if around is None else z_around(G.cfg, around[0], seeds, around[1])
    return generate(G, truncate(z, trunc), on_progress=on_progress)


def seed_batches(G: Generator, seeds: list[int], batch_size: int = BATCH, trunc: float = 1.0,
                 around: tuple[int, float] | None = None) -> Iterator[tuple[list[int], torch.Tensor]]:
    """(seeds, images in [-1, 1]) a batch at a time, so a long list never sits in memory as floats."""
    for i in range(0, len(seeds), batch_size):
        part = seeds[i : i + batch_size]
        yield part, images_from_seeds(G, part, trunc=trunc, around=around)


def uint8_from_seeds(G: Generator, seeds: list[int], batch_size: int = BATCH, on_progress: Progress | None = None,
                     trunc: float = 1.0, around: tuple[int, float] | None = None) -> np.ndarray:
    """uint8 (N, C, H, W): the samples of `seeds` quantised as a saved picture would be, a batch at a time."""
    out, done = [], 0
    for part, images in seed_batches(G, seeds, batch_size, trunc=trunc, around=around):
        out.append(to_uint8(images).numpy())
        done += len(part)
        if on_progress is not None:
            on_progress(done, len(seeds))
    return np.concatenate(out) if out else np.empty((0, G.cfg.nc, G.cfg.size, G.cfg.size), np.uint8)
