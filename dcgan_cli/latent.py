"""Paths through latent space: lerp, slerp, and interpolation between (or through) seeds."""

from __future__ import annotations

import torch

from .errors import UsageError
from .model import Generator, z_from_seeds
from .sample import generate

METHODS = ("slerp", "lerp")


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line: (T,) weights -> (T, nz). Right for uniform z, whose mass fills the cube."""
    t = t.view(-1, 1).to(a.dtype)
    return a.unsqueeze(0) * (1 - t) + b.unsqueeze(0) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle path (White 2016): keeps Gaussian z at the norms the generator was trained on.

    The angle is measured between directions; norms are interpolated linearly. Parallel or
    anti-parallel endpoints have no unique great circle, so they fall back to lerp.
    """
    t = t.view(-1, 1).to(a.dtype)
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(a, b, t.view(-1))
    ua, ub = a / na, b / nb
    cos = (ua * ub).sum().clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    if so.abs() < 1e-6:
        return lerp(a, b, t.view(-1))
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / so  # unit vectors
    return direction * ((1 - t) * na + t * nb)


def path_through(zs: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """Frames through consecutive points of zs (K, nz): `steps` frames per leg, shared ends kept once."""
    if method not in METHODS:
        raise UsageError(f"--method {method!r}: use slerp or lerp")
    if steps < 2:
        raise UsageError(f"--steps must be at least 2 (the two ends), got {steps}")
    fn = slerp if method == "slerp" else lerp
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    legs = [fn(zs[i].double(), zs[i + 1].double(), t)[(1 if i else 0) :] for i in range(len(zs) - 1)]
    return torch.cat(legs).to(zs.dtype)


def interpolate_seeds(G: Generator, seed_pairs: list[tuple[int, int]], steps: int, method: str = "slerp") -> torch.Tensor:
    """Rows of images (R, steps, C, H, W): each row walks from one seed's z to another's."""
    rows = []
    for a, b in seed_pairs:
        zs = z_from_seeds(G.cfg, [a, b])
        frames = path_through(zs, steps, method)
        frames[0], frames[-1] = zs[0], zs[1]  # exact ends: the first and last frames are the sampled seeds
        rows.append(generate(G, frames))
    return torch.stack(rows)


def interpolate_through(G: Generator, seeds: list[int], steps: int, method: str = "slerp") -> torch.Tensor:
    """One path visiting every seed in order: frames (T, C, H, W)."""
    if len(seeds) < 2:
        raise UsageError("--through needs at least two seeds, e.g. 3,8,12,3")
    zs = z_from_seeds(G.cfg, seeds)
    frames = path_through(zs, steps, method)
    for i in range(len(seeds)):
        frames[i * (steps - 1)] = zs[i]
    return generate(G, frames)
