"""Differentiable augmentation (DiffAugment, Zhao et al. 2020): the same random translation,
colour and cutout policy on every batch D sees, real and fake, so D cannot tell them apart by
the augmentation and G learns the un-augmented images through it.

The random draws come from the run's seeded CPU stream, so a resumed run draws what an
uninterrupted one would; the transforms themselves are plain tensor ops on the batch's device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, policy: str, stream: torch.Generator) -> torch.Tensor:
    """x (B, C, H, W) in [-1, 1] with each of policy's comma-separated transforms, drawn per image."""
    for name in policy.split(","):
        if name:
            x = _TRANSFORMS[name](x, stream)
    return x


def _uniform(stream: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=stream)


def _color(x: torch.Tensor, stream: torch.Generator) -> torch.Tensor:
    """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5] (DiffAugment's ranges, in [-1, 1] units)."""
    b = x.shape[0]
    bright, sat, contrast = (_uniform(stream, b, 1, 1, 1).to(x.device, x.dtype) for _ in range(3))
    x = x + (bright - 0.5) * 2  # DiffAugment's +-0.5 on [0, 1] images is +-1 on [-1, 1]
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (sat * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (contrast + 0.5) + mean


def _translation(x: torch.Tensor, stream: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio of its side, filling with zeros (mid grey in [-1, 1])."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (b,), generator=stream).to(x.device)
    dx = torch.randint(-sw, sw + 1, (b,), generator=stream).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy.view(b, 1, 1)  # source row of each output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx.view(b, 1, 1)
    inside = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)
    padded = F.pad(x, (1, 1, 1, 1))  # index 0 of the padded batch is the zero border
    rows = (ys.clamp(-1, h) + 1).unsqueeze(1).expand(b, 1, h, w)
    cols = (xs.clamp(-1, w) + 1).unsqueeze(1).expand(b, 1, h, w)
    flat = padded.flatten(2)  # (B, C, (h+2)(w+2))
    idx = (rows * (w + 2) + cols).flatten(2).expand(-1, x.shape[1], -1)
    out = flat.gather(2, idx).view_as(x)
    return out * inside.to(x.dtype)


def _cutout(x: torch.Tensor, stream: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    """Zero one square of half the side at a random place in each image."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b,), generator=stream).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b,), generator=stream).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    y0, x0 = (cy - ch // 2).view(b, 1, 1), (cx - cw // 2).view(b, 1, 1)
    hole = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)
    return x * (~hole).unsqueeze(1).to(x.dtype)


_TRANSFORMS = {"color": _color, "translation": _translation, "cutout": _cutout}
