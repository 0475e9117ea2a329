"""`dcgan sample`: images from seeds, as one grid picture, a folder of seed-N.png, or one .npz.

The images are generated once, whatever is written: the grid, the folder and --individual
all use the same pass, in batches for the folder and .npz formats so a long list of seeds
never sits in memory as floats.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.errors import UsageError
from ..core.files import write_atomic
from ..core.generation import check_truncation, images_from_seeds, seed_batches
from ..core.images import MIN_CAPTIONED, MIN_CELL, captioned_grid, grid_image, save_individual, save_pil
from ..core.model import Generator
from ..core.pixels import to_hwc_uint8
from ..core.results import Result
from ..core.seeds import MAX_SEED, seeds_label

FORMATS = ("grid", "png", "npz")
MAX_GRID = 4096  # beyond it a grid is no longer a picture to look at: write png or npz files


@dataclass
class Samples(Result):
    """Images of `seeds` from one generator; generated on first use, once."""

    command = "sample"
    checkpoint_path: Path
    step: int
    seeds: list[int]
    generator_name: str  # "EMA generator" or "G"
    fmt: str = "grid"
    nrow: int | None = None
    individual: Path | None = None  # also each image as seed-N.png in this folder
    G: Generator | None = field(default=None, repr=False)
    trunc: float = 1.0  # truncation psi
    scale: int | None = None  # grid tiles enlarged this many times (nearest); None: to 128 px or more
    labels: bool = True  # each grid tile captioned with its seed (where tiles are 64 px or more)
    around: tuple[int, float] | None = None  # (base seed, radius): each seed a small step around the base (--around)
    readings: list[dict[str, tuple[str, float]]] | None = None  # what the attribute classifier reads, per seed (--read)
    on_progress: Callable[[int, int], None] | None = field(default=None, repr=False)
    _images: torch.Tensor | None = field(default=None, repr=False)

    def images(self) -> torch.Tensor:
        """(len(seeds), C, H, W) in [-1, 1]: image i comes from seeds[i] alone."""
        if self._images is None:
            self._images = images_from_seeds(self.G, self.seeds, on_progress=self.on_progress, trunc=self.trunc,
                                             around=self.around)
        return self._images

    def figure(self):
        images = self.images()
        factor = self.scale or max(1, -(-MIN_CELL // images.shape[-1]))
        if factor > 1:  # nearest: a pixel of the model stays a square block, nothing is invented
            images = torch.nn.functional.interpolate(images, scale_factor=factor, mode="nearest")
        if self.labels and images.shape[-1] >= MIN_CAPTIONED:
            return captioned_grid(images, [self.tile_name(s) for s in self.seeds], self.nrow)
        return grid_image(images, self.nrow)

    def tile_name(self, seed: int) -> str:
        return f"seed {seed}" if self.around is None else f"near {self.around[0]}, #{seed}"

    def default_name(self) -> str:
        trunc = f"-trunc{self.trunc:g}" if self.trunc != 1.0 else ""
        near = f"around-{self.around[0]}-r{self.around[1]:g}-" if self.around is not None else ""
        return f"{near}seeds-{seeds_label(self.seeds)}{trunc}" + {"grid": ".png", "png": "", "npz": ".npz"}[self.fmt]

    def to_dict(self) -> dict[str, Any]:
        out = {"checkpoint": str(self.checkpoint_path), "step": self.step, "generator": self.generator_name,
               "format": self.fmt, "truncation": self.trunc, "seeds": self.seeds}
        if self.around is not None:
            out["around"] = {"seed": self.around[0], "radius": self.around[1]}
        if self.readings is not None:
            out["read"] = [{"seed": s, "attributes": {a: {"value": v, "p": p} for a, (v, p) in r.items()}}
                           for s, r in zip(self.seeds, self.readings)]
        return out

    def lines(self) -> list[str]:
        from ..attributes.reading import describe

        near = f", steps of radius {self.around[1]:g} around seed {self.around[0]}" if self.around is not None else ""
        head = [f"{len(self.seeds)} images from {self.checkpoint_path} (step {self.step}, {self.generator_name}{near})"]
        return head + [f"seed {s}: {describe(r)}" for s, r in zip(self.seeds, self.readings or [])]

    def save(self, target: Path) -> list[Path]:
        names = [f"seed-{s}.png" for s in self.seeds]
        if self.fmt == "grid":
            written = [save_pil(self.figure(), target)]
            if self.individual is not None:
                save_individual(self.images(), self.individual, names)
                written.append(self.individual)
            return written
        chunks, done = [], 0
        for part, images in seed_batches(self.G, self.seeds, trunc=self.trunc, around=self.around):
            if self.fmt == "png":
                save_individual(images, Path(target), [f"seed-{s}.png" for s in part])
            else:
                chunks.append(to_hwc_uint8(images))
            if self.individual is not None:
                save_individual(images, self.individual, [f"seed-{s}.png" for s in part])
            done += len(part)
            if self.on_progress is not None:
                self.on_progress(done, len(self.seeds))
        if self.fmt == "npz":
            arrays = {"images": np.concatenate(chunks), "seeds": np.asarray(self.seeds, dtype=np.int64)}
            write_atomic(Path(target), lambda tmp: np.savez(tmp, **arrays), what="sample file")
        return [Path(target)] + ([self.individual] if self.individual is not None else [])


def check_target(fmt: str, out: Path | None) -> None:
    """Refuse, before any work, an --out that the format cannot write."""
    from ..core.files import check_folder_path, check_image_path

    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: use grid, png or npz")
    if out is None:
        return
    if fmt == "grid":
        check_image_path(out)
    elif fmt == "png":
        check_folder_path(out, "--out")
    elif out.suffix.lower() != ".npz" or out.is_dir():
        raise UsageError(f"--out {out}: --format npz writes one .npz file; give a name ending in .npz")


def sample(
    ckpt: Checkpoint | str | Path | None,
    seeds: list[int],
    *,
    fmt: str = "grid",
    nrow: int | None = None,
    individual: Path | None = None,
    trunc: float = 1.0,
    scale: int | None = None,
    labels: bool = True,
    ema: bool | None = None,
    around: int | None = None,
    radius: float = 0.3,
    read: bool = False,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Samples:
    """The samples of `seeds` (the EMA generator when the checkpoint has one, unless `ema` is False).

    `result.images()` is the tensor; `result.write(out)` writes the grid, folder or .npz. `read`:
    also what the data set's attribute classifier reads in each (`result.readings`)."""
    from ..core.files import check_folder_path

    check_target(fmt, None)
    if fmt == "grid" and len(seeds) > MAX_GRID:
        raise UsageError(f"a grid of {len(seeds):,} images is too large to look at; use --format png or npz "
                         f"(at most {MAX_GRID:,} in a grid)")
    if nrow is not None and nrow < 1:
        raise UsageError(f"--nrow must be at least 1, got {nrow}")
    if individual is not None:
        check_folder_path(individual, "--individual")
    check_truncation(trunc)
    if scale is not None and not 1 <= scale <= 16:
        raise UsageError(f"--scale must be 1 to 16, got {scale}")
    if around is not None:
        if not 0 <= around <= MAX_SEED:
            raise UsageError(f"--around must be a seed from 0 to 2^63-1, got {around}")
        if not 0.0 <= radius <= 1.0:
            raise UsageError(f"--radius must be 0 to 1 (0: the --around seed itself; 1: unrelated samples), got {radius}")
    c = as_checkpoint(ckpt)
    G = c.generator(device, ema=ema)
    which = c.generator_name(ema)
    near = (around, radius) if around is not None else None
    result = Samples(c.path, c.step, list(seeds), which, fmt, nrow, individual, G, trunc, scale, labels, near, None, on_progress)
    if read:
        from ..attributes.reading import MAX_READ, read_images

        if len(seeds) > MAX_READ:
            raise UsageError(f"--read reads at most {MAX_READ:,} seeds at a time, got {len(seeds):,}")
        result.readings = read_images(c, result.images(), device=device, data_root=data_root, on_progress=on_progress)
    return result
