"""Seeds as user input, and generating images from them.

One rule for every command that draws samples: `--seeds` names them (a range 0-63, a list
3,7,9, or both mixed); `--n N` is short for seeds 0..N-1; giving both is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import torch

from ..checkpoint import Checkpoint, as_checkpoint
from ..errors import UsageError
from ..model import Generator, z_from_seeds

MAX_SEED = 2**63 - 1
MAX_IMAGES = 100_000  # per command: beyond it a grid or a search is no longer something to look at


def parse_seeds(text: str, flag: str = "--seeds", limit: int = MAX_IMAGES) -> list[int]:
    """'0-63' -> [0..63]; '3,7,9' -> [3, 7, 9]; mixes like '0-3,10' work too."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m:
            raise UsageError(f"{flag} {text!r}: {part!r} is not a seed; use a range like 0-63 or a list like 3,7,9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi > MAX_SEED:
            raise UsageError(f"{flag} {text!r}: seeds go up to 2^63-1 = {MAX_SEED}")
        if hi < lo:
            raise UsageError(f"{flag} {text!r}: the range {part} runs backwards; write {hi}-{lo}")
        if len(seeds) + hi - lo + 1 > limit:
            raise UsageError(f"{flag} {text!r} asks for {len(seeds) + hi - lo + 1:,} images; at most {limit:,} at a time")
        seeds.extend(range(lo, hi + 1))
    return seeds


def resolve_seeds(n: int | None, seeds: str | None, default_n: int, limit: int = MAX_IMAGES) -> list[int]:
    """The one --n / --seeds rule."""
    if n is not None and seeds is not None:
        raise UsageError("give --n or --seeds, not both (--n N means seeds 0 to N-1)")
    if seeds is not None:
        return parse_seeds(seeds, limit=limit)
    n = default_n if n is None else n
    if not 1 <= n <= limit:
        raise UsageError(f"--n must be 1 to {limit:,}, got {n}")
    return list(range(n))


def seeds_label(seeds: list[int]) -> str:
    """A short file-name-safe name for a seed list: 0-63, 3_7_9, or 0-3_10."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append(f"{seeds[i]}-{seeds[j]}" if j > i else str(seeds[i]))
        i = j + 1
    label = "_".join(parts)
    return label if len(label) <= 60 else f"{label[:40]}-and-{len(seeds)}"


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, batch_size: int = 256, on_progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    """Images (B, C, H, W) in [-1, 1] on the CPU, G in eval mode, in batches to bound memory."""
    G.eval()
    device = next(G.parameters()).device
    out = []
    for i in range(0, z.shape[0], batch_size):
        out.append(G(z[i : i + batch_size].to(device)).cpu())
        if on_progress is not None:
            on_progress(min(i + batch_size, z.shape[0]), z.shape[0])
    return torch.cat(out) if out else torch.empty(0)


def generate_from_seeds(G: Generator, seeds: list[int], on_progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
    return generate(G, z_from_seeds(G.cfg, seeds), on_progress=on_progress)


def sample(
    ckpt: Checkpoint | str | None,
    seeds: list[int],
    *,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    on_progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Images (len(seeds), C, H, W) in [-1, 1]: image i comes from seeds[i] alone, in any company.

    The EMA generator is used when the checkpoint has one, unless `ema` is False."""
    c = as_checkpoint(ckpt)
    return generate_from_seeds(c.generator(device, ema=ema), seeds, on_progress=on_progress)


FORMATS = ("grid", "png", "npz")
MAX_GRID = 4096  # beyond it a grid is no longer a picture to look at: write png or npz files


def write_samples(
    ckpt: Checkpoint | str | None,
    seeds: list[int],
    target: Path,
    fmt: str = "grid",
    *,
    nrow: int | None = None,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the images of `seeds`: one grid picture, a folder of seed-N.png, or one .npz
    (images (N, H, W, C) uint8 and seeds (N,) int64) for external tools. Generated in batches,
    so png and npz never hold more than one batch of float images."""
    import numpy as np

    from ..files import write_atomic
    from ..images import save_grid, save_individual
    from ..pixels import to_hwc_uint8

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use grid, png or npz")
    if fmt == "grid" and len(seeds) > MAX_GRID:
        raise UsageError(f"a grid of {len(seeds):,} images is too large to look at; use --format png or npz (at most {MAX_GRID:,} in a grid)")
    c = as_checkpoint(ckpt)
    G = c.generator(device, ema=ema)
    if fmt == "grid":
        save_grid(generate_from_seeds(G, seeds, on_progress=on_progress), target, nrow)
        return Path(target)
    chunks = []
    for i in range(0, len(seeds), batch_size):
        part = seeds[i : i + batch_size]
        images = generate_from_seeds(G, part)
        if fmt == "png":
            save_individual(images, Path(target), [f"seed-{s}.png" for s in part])
        else:
            chunks.append(to_hwc_uint8(images))
        if on_progress is not None:
            on_progress(min(i + batch_size, len(seeds)), len(seeds))
    if fmt == "npz":
        arrays = {"images": np.concatenate(chunks), "seeds": np.asarray(seeds, dtype=np.int64)}
        write_atomic(Path(target), lambda tmp: np.savez(tmp, **arrays), what="sample file")
    return Path(target)
