"""`dcgan nn-search`: the training images nearest to generated samples (or to image files).

Is the GAN copying? Besides each query's neighbours, generated queries get the memorization
check of Lorenz's report: the nearest-training distances of fresh samples against those of
real images the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.configs import SPLITS
from ..core.defaults import HOLDOUT, MIN_CELL, NEIGHBOURS
from ..core.errors import DcganError, UsageError
from ..core.generation import generate, images_from_seeds
from ..core.images import captioned_table
from ..core.pixels import flat_model_range
from ..core.progress import Progress
from ..core.results import Result, shown
from ..core.seeds import seeds_label
from ..data import ImageData, checkpoint_data
from ..data.user_images import load_images
from .exact import Neighbours, cached_norms, nearest

HOLDOUT_SEED0 = 10_000  # generated samples for the memorization statistic use seeds from here on


FAR = 3.0  # generated samples this many times farther from the data than unseen real images are not copies but poor ones
# Below this many unseen real images the median of their distances moves by tens of percent from one
# draw to the next (3 images: one image's distance), so a ratio of two such medians decides nothing.
MIN_HELDOUT = 20
BLUR_SIGMA = 1.5  # pixels: the blur of the unseen real images that tells blur from copying


def memorization(gen_nearest: torch.Tensor, real_nearest: torch.Tensor,
                 blurred_nearest: torch.Tensor | None = None, asked: int | None = None) -> dict[str, Any]:
    """Compare nearest-training distances of generated vs unseen real images (Lorenz report).

    A ratio of medians below 1 means generated samples sit closer to the training set than
    real images the model never saw: a sign of copying, unless they are only blurry. In L2 a
    blurred image sits closer to everything than a sharp one, so the same unseen images blurred
    give a second bar: samples closer than sharp unseen images but not closer than blurred ones
    say blur, not copying. Too few unseen images and no verdict is given, with the reason.
    """
    count = int(real_nearest.numel())
    g, r = float(gen_nearest.median()), float(real_nearest.median())
    out: dict[str, Any] = {"median_generated": g, "median_heldout": r, "ratio": None, "count": count}
    if blurred_nearest is not None:
        out["median_blurred"] = float(blurred_nearest.median())
    over = f"{int(gen_nearest.numel())} generated, {count} unseen real images"
    if count < MIN_HELDOUT:
        fix = ("the test split holds no more: add images the model never saw to it" if asked is not None and count < asked
               else f"pass --holdout {MIN_HELDOUT} or more")
        out["verdict"] = (f"no memorization verdict: {count} unseen real image(s) compared (median {g:.1f} vs {r:.1f}), "
                          f"too few for a ratio of medians to mean anything (at least {MIN_HELDOUT}); {fix}")
        return out
    if r == 0:
        out["verdict"] = "the unseen real images duplicate training images (median distance 0): the comparison says nothing"
        return out
    ratio = out["ratio"] = g / r
    b = out.get("median_blurred")
    if ratio < 1 and b is not None and g >= b:
        verdict = (f"generated samples sit closer to the training set than unseen real images (median {g:.1f} vs {r:.1f}, "
                   f"ratio {ratio:.2f}; {over}) but no closer than the same images blurred ({b:.1f}): in L2 blur sits close "
                   "to everything, so this reads as blurry samples, not copying")
    elif ratio < 1:
        verdict = (
            f"generated samples sit CLOSER to the training set than unseen real images do "
            f"(median {g:.1f} vs {r:.1f}, ratio {ratio:.2f}; {over}"
            + (f"; closer than the blurred ones too, {b:.1f}" if b is not None else "") + "): the model may be memorizing"
        )
    elif ratio > FAR:
        verdict = (
            f"no sign of memorization, but generated samples are far from the data: {ratio:.1f}x farther from the training set "
            f"than unseen real images (median {g:.1f} vs {r:.1f}; {over}), which mostly means low fidelity "
            "(blurry or off-data samples)"
        )
    else:
        verdict = (
            f"generated samples are no closer to the training set than unseen real images "
            f"(median {g:.1f} vs {r:.1f}, ratio {ratio:.2f}; {over}): no sign of memorization"
        )
    out["verdict"] = verdict
    return out


@dataclass
class SearchResult(Result):
    command = "nn-search"
    checkpoint_path: Path
    step: int
    queries: torch.Tensor = field(repr=False)  # (Q, C, H, W) in [-1, 1]
    query_info: list[dict[str, Any]]  # {"seed": s} or {"path": p} per query
    neighbours: Neighbours
    data: ImageData = field(repr=False)  # the searched split
    split: str
    memorization: dict[str, Any] | None  # generated vs unseen real nearest-training distances
    k: int = NEIGHBOURS

    def default_name(self) -> str:
        seeds = [q["seed"] for q in self.query_info if "seed" in q]
        what = f"seeds-{seeds_label(seeds)}" if len(seeds) == len(self.query_info) else "query"
        return f"{self.split}-{what}-k{self.k}.png"

    def figure(self, min_cell: int = MIN_CELL) -> Image.Image:
        """A title, one row per query (its seed or file on the left), the query then its k nearest
        training images in rank order, each captioned with its distance and index in the split."""
        q, nb = self.queries, self.neighbours
        rows, captions, names = [], [], []
        for r, info in enumerate(self.query_info):
            neigh = flat_model_range(self.data.images[nb.indices[r].numpy()]).float().view(-1, *q.shape[1:])  # rank order
            rows.append(torch.cat([q[r : r + 1].float(), neigh]))
            names.append(self._name(info))
            first = "its reconstruction" if info.get("reconstruction") else "generated" if "seed" in info else "query"
            captions.append([first, *[f"{d:.1f}  #{i}" for d, i in zip(nb.distances[r].tolist(), nb.indices[r].tolist())]])
        title = (f"nearest {self.split} images of {self.data.name} to each sample (squared L2 in [-1, 1] pixels), "
                 f"step {self.step}")
        headers = ["sample", *[f"nearest {j + 1}" for j in range(nb.indices.shape[1])]]
        return captioned_table(rows, captions, names, headers, title=title, min_cell=min_cell)

    @staticmethod
    def _name(info: dict[str, Any]) -> str:
        if "seed" in info:
            return f"seed {info['seed']}"
        return shown(Path(info["path"]).name)[:24] if "path" in info else f"query {info['index']}"

    def to_dict(self) -> dict[str, Any]:
        data, nb = self.data, self.neighbours
        out_queries = []
        for q, idx, dist in zip(self.query_info, nb.indices.tolist(), nb.distances.tolist()):
            neighbours = []
            for i, d in zip(idx, dist):
                entry: dict[str, Any] = {"index": i, "distance": d}
                if data.labels is not None:
                    entry["labels"] = [data.label_names[j] for j in np.flatnonzero(data.labels[i])]
                entry["source"] = data.items[i] if data.items else f"{data.name}[{self.split}][{i}]"
                neighbours.append(entry)
            out_queries.append({**q, "neighbours": neighbours})
        return {
            "checkpoint": str(self.checkpoint_path), "step": self.step, "dataset": data.name, "split": self.split,
            "count": int(data.images.shape[0]), "distance": "squared L2 in [-1, 1] pixel space", "queries": out_queries,
            "memorization": self.memorization,
        }

    def lines(self) -> list[str]:
        out = [f"nearest {self.split} images of {self.data.name} (squared L2, [-1, 1] pixels): index (distance)"]
        for q, idx, dist in zip(self.query_info, self.neighbours.indices.tolist(), self.neighbours.distances.tolist()):
            label = self._name(q) + (" (its reconstruction by G)" if q.get("reconstruction") else "")
            out.append(f"  {label}: " + ", ".join(f"{i} ({d:.1f})" for i, d in zip(idx, dist)))
        if self.memorization:
            out.append(self.memorization["verdict"])
        return out


def nn_search(
    ckpt: Checkpoint | str | Path | None,
    queries: list[int] | list[Path] | torch.Tensor,
    *,
    k: int = NEIGHBOURS,
    split: str = "train",
    holdout: int = HOLDOUT,
    chunk_size: int | None = None,
    device: torch.device | str = "cpu",
    data: ImageData | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    ema: bool | None = None,
    project: bool = False,
    on_progress: Progress | None = None,
) -> SearchResult:
    """The k nearest `split` images of each query: seeds (generated), image files, or images in [-1, 1].

    With generated queries and holdout > 0, also compares the nearest-training distances of
    `holdout` fresh samples with those of as many unseen real images (the memorization check).
    `project` (image files only): each image is projected into G and its reconstruction searched
    too, in the row after it: which training images the photo is closest to, as the GAN draws it.
    """
    if split not in SPLITS:
        raise UsageError(f"--split {split!r}: use train or test")
    if not 0 <= holdout <= 100_000:
        raise UsageError(f"--holdout must be 0 to 100,000, got {holdout}")
    c = as_checkpoint(ckpt)
    G = c.generator(device, ema=ema)
    generated = not (isinstance(queries, torch.Tensor) or (queries and isinstance(queries[0], (str, Path))))
    if project and (generated or isinstance(queries, torch.Tensor)):
        raise UsageError("--project projects --query images into G; give image files with --query")
    q, info = _queries(c, G, queries, generated, project, ema, device)
    if data is None:
        data = checkpoint_data(c, split, data_root=data_root, cache_dir=cache_dir)
    if tuple(q.shape[1:]) != tuple(data.images.shape[1:]):
        raise DcganError(
            f"the model makes {tuple(q.shape[1:])} images but the cache in {data.cache_dir} holds {tuple(data.images.shape[1:])}"
        )
    device = torch.device(device)
    norms = cached_norms(data.images, data.cache_dir) if device.type == "cpu" else None  # the integer path's
    nb = nearest(q, data.images, k, chunk_size=chunk_size, device=device, on_progress=on_progress, norms=norms)
    memo = None
    if holdout > 0 and generated:
        memo = _memorization(c, G, data, split, norms, holdout, chunk_size, device, data_root, cache_dir)
    return SearchResult(checkpoint_path=c.path, step=c.step, queries=q, query_info=info, neighbours=nb, data=data,
                        split=split, memorization=memo, k=k)


def _queries(c: Checkpoint, G, queries, generated: bool, project: bool, ema, device) -> tuple[torch.Tensor, list[dict]]:
    """The query images in [-1, 1] and what each is (an index, a file, its reconstruction, a seed)."""
    cfg = c.model_config
    if isinstance(queries, torch.Tensor):
        q, info = queries.float(), [{"index": i} for i in range(queries.shape[0])]
    elif not generated:
        q, info = load_images(list(queries), cfg.size, cfg.nc).images, [{"path": str(p)} for p in queries]
        if project:
            from ..projection import latent_ends

            ends = latent_ends(c, G, c.generator_name(ema), list(queries), flag="--query", device=device)
            recon = generate(G, torch.stack([e.z for e in ends]))
            q = torch.stack([q, recon], 1).flatten(0, 1)  # photo, its reconstruction, next photo, ...
            info = [x for p in queries for x in ({"path": str(p)}, {"path": str(p), "reconstruction": True})]
    else:
        q, info = images_from_seeds(G, list(queries)), [{"seed": s} for s in queries]
    if q.shape[0] == 0:
        raise UsageError("no queries: give seeds or --query images")
    return q, info


def _memorization(c: Checkpoint, G, data: ImageData, split: str, norms, holdout: int, chunk_size, device, data_root,
                  cache_dir) -> dict:
    """Nearest-training distances of `holdout` fresh samples against those of as many unseen real images."""
    held = data if split == "test" else checkpoint_data(c, "test", data_root=data_root, cache_dir=cache_dir)
    train = data if split == "train" else checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    take = held.images[: min(holdout, held.images.shape[0])]
    gen = images_from_seeds(G, list(range(HOLDOUT_SEED0, HOLDOUT_SEED0 + take.shape[0])))
    tn = norms if train is data else cached_norms(train.images, train.cache_dir) if device.type == "cpu" else None
    d_gen = nearest(gen, train.images, 1, chunk_size=chunk_size, device=device, norms=tn).distances[:, 0]
    real = flat_model_range(take).float()
    d_real = nearest(real, train.images, 1, chunk_size=chunk_size, device=device, norms=tn).distances[:, 0]
    d_blur = nearest(_blurred(real, take.shape[1:]), train.images, 1, chunk_size=chunk_size, device=device,
                     norms=tn).distances[:, 0]
    return memorization(d_gen, d_real, d_blur, asked=holdout)


def _blurred(flat: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Flat model-range images, Gaussian-blurred (BLUR_SIGMA) and flattened again."""
    from torchvision.transforms.v2.functional import gaussian_blur  # here: torchvision takes 1.5 s to import

    size = 2 * round(2 * BLUR_SIGMA) + 1
    images = flat.reshape(-1, *shape)
    return gaussian_blur(images, [size, size], [BLUR_SIGMA, BLUR_SIGMA]).reshape(flat.shape[0], -1)
