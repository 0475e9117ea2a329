"""Seeds as user input, and generating images from them."""

from __future__ import annotations

import re

import torch

from .errors import UsageError
from .model import Generator, z_from_seeds


def parse_seeds(text: str) -> list[int]:
    """'0-63' -> [0..63]; '3,7,9' -> [3, 7, 9]; mixes like '0-3,10' work too."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UsageError(f"--seeds {text!r}: {part!r} is not a seed; use a range like 0-63 or a list like 3,7,9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise UsageError(f"--seeds {text!r}: the range {part} runs backwards; write {hi}-{lo}")
        seeds.extend(range(lo, hi + 1))
    return seeds


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Images (B, C, H, W) in [-1, 1] on the CPU, G in eval mode, in batches to bound memory."""
    G.eval()
    device = next(G.parameters()).device
    out = [G(z[i : i + batch_size].to(device)).cpu() for i in range(0, z.shape[0], batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def generate_from_seeds(G: Generator, seeds: list[int]) -> torch.Tensor:
    return generate(G, z_from_seeds(G.cfg, seeds))
