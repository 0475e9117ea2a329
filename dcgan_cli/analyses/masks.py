"""Where the object is in an image: the pixels unlike its border colour (its background).

Ablate finds the maps that draw a concept at object positions; explain measures how much of
D's guided gradient falls on the object.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def object_mask(images: torch.Tensor, side: int, threshold: float = 0.25) -> torch.Tensor:
    """(B, side, side) bool for images (B, C, S, S) in [-1, 1]: where each differs from its border
    colour, pooled to `side`; an image with no clear object (under 2% or over 90%) counts whole."""
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], -1)  # (B, C, 4S)
    bg = border.median(-1).values[..., None, None]  # (B, C, 1, 1)
    fg = (images - bg).abs().amax(1, keepdim=True).gt(threshold).float()  # (B, 1, S, S)
    mask = F.adaptive_avg_pool2d(fg, side)[:, 0] > 0.5
    cover = mask.float().mean((1, 2))
    unclear = (cover < 0.02) | (cover > 0.9)
    mask[unclear] = True
    return mask
