"""The decoded-once image cache: one uint8 (N, C, S, S) memory map per data set, split and size.

`load_data` is what training and nn-search call: it opens the cache when its manifest matches
the source files and the transform, and (re)builds it otherwise. Building decodes, centre-crops
and resizes every image once, in parallel. Reading never copies the whole set into memory.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from ..core.checkpoint import DatasetRecord
from ..core.configs import SIZES
from ..core.errors import UsageError
from ..core.files import TEMP_MARK, remove_stale_temps
from ..core.progress import Progress
from ..core.records import ConfigError, Record
from .source import DataError, Source
from .sources import open_source

CACHE_FORMAT = 1
# Bump when the crop/resize code changes: every cache built before is then rebuilt.
TRANSFORM = {"version": 1, "crop": "center-square", "resize": "bicubic-antialias (files), bilinear-antialias (arrays)"}


@dataclass
class ImageData:
    """A prepared split: images (N, C, S, S) uint8, usually a read-only memory map."""

    images: np.ndarray
    labels: np.ndarray | None  # (N, A) uint8 0/1, columns named by label_names
    label_names: list[str]
    groups: list[list[str]]
    name: str
    split: str
    cache_dir: Path | None
    items: list[str] | None  # the source file (or key) of each image, where it has one
    fingerprint: str | None = None  # of the source files the cache was built from

    @property
    def size(self) -> int:
        return int(self.images.shape[-1])

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    def record(self, root: str | None = None) -> DatasetRecord:
        """What a checkpoint records about its training data (`root`: where it was read from, if named)."""
        return DatasetRecord(name=self.name, split=self.split, root=root, cache=str(self.cache_dir) if self.cache_dir else None,
                             fingerprint=self.fingerprint, size=self.size, channels=self.channels,
                             count=int(self.images.shape[0]), label_names=list(self.label_names),
                             groups=[list(g) for g in self.groups])


REAL_SUBSET_SEED = 0


def real_subset(data: ImageData, n: int) -> np.ndarray:
    """A fixed random subset of n images (all of them when the split is smaller), sorted for memmap reads."""
    count = data.images.shape[0]
    if n >= count:
        return np.asarray(data.images)
    idx = np.sort(torch.randperm(count, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))[:n].numpy())
    return data.images[idx]


def second_real_subset(data: ImageData, n: int) -> np.ndarray | None:
    """n more images, none of them in `real_subset(data, n)`; None when the split has fewer than 2n.

    Real against real at the same N is the floor a metric's small-sample bias sets for that N.
    """
    count = data.images.shape[0]
    if 2 * n > count:
        return None
    order = torch.randperm(count, generator=torch.Generator().manual_seed(REAL_SUBSET_SEED))
    return data.images[np.sort(order[n : 2 * n].numpy())]


def default_cache_root() -> Path:
    return Path(os.environ.get("DCGAN_CACHE", Path.home() / ".cache" / "dcgan" / "cache"))


def cache_dir_for(source: Source, size: int, cache_root: Path) -> Path:
    where = hashlib.sha256(source.location.encode()).hexdigest()[:8]
    grey = "-grey" if source.channels == 1 and source.name not in ("mnist", "fashion-mnist") else ""
    return Path(cache_root) / f"{source.name}-{source.split}-{size}px{grey}-{where}"


def load_data(
    name: str,
    size: int,
    *,
    root: Path | None = None,
    split: str = "train",
    cache_root: Path | None = None,
    download: bool = False,
    rebuild: bool = False,
    workers: int | None = None,
    channels: int | None = None,
    min_count: int = 0,
    on_progress: Progress | None = None,
) -> ImageData:
    """Open the cache for (data set, split, size), building it first if missing or stale. `min_count`
    (a training batch) is checked against the files before any is decoded."""
    if size not in SIZES:
        raise UsageError(f"--size {size} is not a size the model can make; use one of {', '.join(map(str, SIZES))}")
    if workers is not None and not 1 <= workers <= 1024:
        raise UsageError(f"--workers must be 1 to 1024, got {workers}")
    cache_root = Path(cache_root) if cache_root is not None else default_cache_root()
    if cache_root.exists() and not cache_root.is_dir():
        raise UsageError(f"--cache-dir {cache_root} is a file; give a folder")
    source = open_source(name, root, split, download=download, work_dir=cache_root / "work", channels=channels)
    if 0 < source.count < min_count:
        raise UsageError(f"{name}: the {split} split holds {source.count:,} images, fewer than one batch of {min_count:,}; "
                         f"lower --batch-size (to {source.count} or less) or add images")
    d = cache_dir_for(source, size, cache_root)
    if not rebuild and is_fresh(d, source, size):
        return open_cache(d)
    build_cache(source, size, d, workers=workers, on_progress=on_progress)
    return open_cache(d)


def is_fresh(d: Path, source: Source, size: int) -> bool:
    try:
        m = json.loads((d / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return (
        m.get("format") == CACHE_FORMAT
        and m.get("fingerprint") == source.fingerprint
        and m.get("content", "") == source.content
        and m.get("transform") == TRANSFORM
        and m.get("size") == size
    )


@dataclass(frozen=True)
class Manifest(Record):
    """A cache's manifest.json: what was decoded, from where, into what shape, and what was skipped. A checkpoint
    does not copy it: it keeps a DatasetRecord of the data its model saw (core/checkpoint.py), made from the
    loaded data by `ImageData.record`."""

    _what = "manifest"
    _strict = False
    dataset: str
    split: str
    size: int
    shape: list[int]
    label_names: list[str]
    groups: list[list[str]]
    format: int | None = None
    source: str | None = None
    fingerprint: str | None = None
    content: str | None = None
    transform: dict | None = None
    channels: int | None = None
    count: int | None = None
    skipped: int | None = None
    skipped_files: list[str] | None = None
    unreadable_folders: list[str] | None = None
    created: str | None = None

    def _checks(self) -> list[tuple[str, bool, str]]:
        shape = self.shape
        ok = len(shape) == 4 and all(v > 0 for v in shape) and shape[1] in (1, 3) and shape[2] == shape[3] == self.size
        return [("shape", ok, f"must be (count, 1 or 3, size, size), got {shape}")]


def read_manifest(d: Path) -> dict[str, Any]:
    """A cache's manifest, checked field by field; DataError naming the fix when it is damaged."""
    d = Path(d)
    try:
        m = json.loads((d / "manifest.json").read_text())
    except FileNotFoundError:
        raise DataError(f"no prepared data set in {d}; run `dcgan data prepare` for it") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DataError(
            f"the cache manifest {d / 'manifest.json'} is damaged; delete {d} and run `dcgan data prepare` again"
        ) from None
    try:
        Manifest.from_dict(m)
    except (ConfigError, TypeError) as e:
        where = d / "manifest.json"
        raise DataError(f"the cache manifest {where} is damaged ({e}); delete {d} and run `dcgan data prepare` again") from None
    return m


def open_cache(d: Path) -> ImageData:
    d = Path(d)
    m = read_manifest(d)
    shape = tuple(m["shape"])
    need = int(np.prod(shape))
    try:
        have = (d / "images.u8").stat().st_size
    except OSError:
        have = -1
    if have != need:
        raise DataError(f"the cache {d} is damaged (images.u8 has {max(have, 0)} bytes, {need} expected); "
                        "run `dcgan data prepare ... --rebuild` or delete the folder")
    images = np.memmap(d / "images.u8", dtype=np.uint8, mode="r", shape=shape)
    labels = None
    if (d / "labels.npy").exists():
        try:
            labels = np.load(d / "labels.npy", allow_pickle=False)
        except (OSError, ValueError, EOFError):
            labels = None
        if labels is None or labels.shape != (shape[0], len(m["label_names"])) or labels.dtype != np.uint8:
            raise DataError(
                f"the cache {d} has a damaged labels.npy; run `dcgan data prepare ... --rebuild` or delete the folder"
            )
    items = None
    if (d / "items.json").exists():
        try:
            items = json.loads((d / "items.json").read_text())
        except (OSError, ValueError):
            items = None
        if not isinstance(items, list) or len(items) != shape[0]:
            items = None  # only used to name neighbours; indices still work
    return ImageData(images, labels, m["label_names"], m["groups"], m["dataset"], m["split"], d, items, m.get("fingerprint"))


def resize_array(x: np.ndarray, size: int) -> np.ndarray:
    """(N, H, W, C) uint8 -> (N, C, size, size) uint8: centre square crop, antialiased bilinear resize."""
    n, h, w, c = x.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    out = np.empty((n, c, size, size), dtype=np.uint8)
    for i in range(0, n, 4096):
        t = torch.from_numpy(np.ascontiguousarray(x[i : i + 4096, top : top + s, left : left + s])).permute(0, 3, 1, 2)
        if s != size:
            t = F.interpolate(t.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            t = t.round_().clamp_(0, 255).to(torch.uint8)
        out[i : i + 4096] = t.numpy()
    return out


def to_mode(img: Image.Image, channels: int) -> Image.Image:
    """Any PIL mode -> 8-bit "L" or "RGB", keeping what the pixels mean.

    Pillow's convert() clips 16- and 32-bit grey to 255 (a 16-bit PNG comes out near white) and
    drops transparency to whatever colour hides under it; both are handled here. Transparent
    pixels are laid over black.
    """
    target = "L" if channels == 1 else "RGB"
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        if img.mode.startswith("I;16"):
            a = a / 257.0
        elif img.mode == "I":
            a = a / 257.0 if a.max(initial=0) > 255 else a  # 16-bit PNGs open as "I" in some Pillow versions
        else:
            a = a * 255.0 if a.max(initial=0) <= 1.0 else a  # float images: [0, 1] or [0, 255]
        img = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert(target)  # CMYK, YCbCr, LAB, HSV and "1" convert correctly in Pillow


def crop_resize(img: Image.Image, size: int, channels: int) -> np.ndarray:
    """A PIL image -> (C, size, size) uint8: centre square crop, then an antialiased resize."""
    img = to_mode(img, channels)
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if s != size:
        img = img.resize((size, size), Image.Resampling.BICUBIC)  # Pillow widens the filter when shrinking
    a = np.asarray(img, dtype=np.uint8)
    return a[None] if channels == 1 else a.transpose(2, 0, 1)


def _reserve(path: Path, nbytes: int) -> None:
    """Give the file its whole size on disk now: a memory map over a sparse file on a full disk dies
    with SIGBUS at the first page it cannot back; this raises a one-line DataError instead."""
    with open(path, "wb") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, max(nbytes, 1))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DataError(f"no space left on device: the cache needs {nbytes / 1e6:,.0f} MB in {path.parent.parent}; "
                                "free some or point --cache-dir (or DCGAN_CACHE) elsewhere") from None
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: map it as it is
                raise


def _decode_into(mm: np.memmap, source: Source, size: int, workers: int | None, on_progress: Progress | None) -> list[int]:
    """Fill mm with the source's images in order; returns the indices that decoded (the rest are skipped)."""
    n, c = source.count, source.channels
    if source.draw is not None or source.arrays is not None:
        mm[:n] = source.draw(size) if source.draw is not None else resize_array(source.arrays(), size)
        if on_progress:
            on_progress(n, n)
        return list(range(n))

    def decode(i: int) -> np.ndarray | None:
        try:
            with warnings.catch_warnings():
                # Past Pillow's pixel limit an image is a likely decompression bomb: skipped, counted.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with source.load_item(i) as img:
                    return crop_resize(img, size, c)
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError,
                Image.DecompressionBombWarning, MemoryError):
            return None  # unreadable, truncated or over-large file: skipped and counted

    kept: list[int] = []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        for i, a in enumerate(pool.map(decode, range(n), chunksize=64)):
            if a is not None:
                mm[len(kept)] = a
                kept.append(i)
            if on_progress and (i % 256 == 255 or i == n - 1):
                on_progress(i + 1, n)
    return kept


def _manifest(source: Source, size: int, kept: list[int]) -> dict[str, Any]:
    n, c = source.count, source.channels
    return {
        "format": CACHE_FORMAT, "dataset": source.name, "split": source.split, "source": source.location,
        "fingerprint": source.fingerprint, "content": source.content, "transform": TRANSFORM, "size": size, "channels": c,
        "count": len(kept), "skipped": n - len(kept), "shape": [len(kept), c, size, size],
        "skipped_files": [source.items[i] for i in sorted(set(range(n)) - set(kept))][:1000] if source.items else [],
        "unreadable_folders": source.unreadable,
        "label_names": source.label_names, "groups": source.groups, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def build_cache(
    source: Source, size: int, d: Path, *, workers: int | None = None, on_progress: Progress | None = None
) -> Path:
    """Decode every image of `source` once into d/images.u8, then swap the folder in whole."""
    d = Path(d)
    d.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(d.parent, recursive=False)  # half-built caches of killed processes
    tmp = d.with_name(f".{d.name}{TEMP_MARK}{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    c, n = source.channels, source.count
    try:
        shape = (max(n, 1), c, size, size)
        _reserve(tmp / "images.u8", int(np.prod(shape)))
        mm = np.memmap(tmp / "images.u8", dtype=np.uint8, mode="r+", shape=shape)
        kept = _decode_into(mm, source, size, workers, on_progress)
        mm.flush()
        del mm
        if not kept:
            raise DataError(f"{source.name}: none of the {n} images in {source.location} could be read")
        os.truncate(tmp / "images.u8", len(kept) * c * size * size)
        if source.labels is not None:
            np.save(tmp / "labels.npy", np.ascontiguousarray(source.labels[kept]))
        if source.items:
            (tmp / "items.json").write_text(json.dumps([source.items[i] for i in kept]))
        (tmp / "manifest.json").write_text(json.dumps(_manifest(source, size, kept), indent=1))
        old = d.with_name(f".{d.name}.old{TEMP_MARK}{os.getpid()}")
        if d.exists():
            os.replace(d, old)
        os.replace(tmp, d)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return d
