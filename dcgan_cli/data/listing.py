"""The prepared caches, listed: `dcgan data prepare` and `dcgan data info` report from here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.results import Result, shown
from .cache import ImageData, default_cache_root, load_data, open_cache, read_manifest
from .source import DataError


def list_caches(cache_root: Path | None = None) -> list[dict[str, Any]]:
    """Every prepared cache under the root; a damaged one is listed as such, not skipped silently."""
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    if root.exists() and not root.is_dir():
        raise UsageError(f"--cache-dir {root} is a file; give a folder")
    out = []
    for m in sorted(root.glob("*/manifest.json")):
        try:
            info = read_manifest(m.parent)
            info["bytes"] = (m.parent / "images.u8").stat().st_size
            try:
                open_cache(m.parent)  # what train does: sizes, labels, manifest all checked
                info["damaged"] = False
            except DataError:
                info["damaged"] = True
        except (DataError, OSError):
            info = {"dataset": m.parent.name, "split": "?", "count": 0, "shape": [0, 0, 0, 0], "bytes": 0,
                    "label_names": [], "source": "?", "damaged": True}
        info["path"] = str(m.parent)
        out.append(info)
    return out


def find_caches(cache_root: Path | None = None) -> list[ImageData]:
    """Every cache under the root that opens cleanly."""
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    found = []
    for m in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
        try:
            found.append(open_cache(m.parent))
        except DataError:
            continue
    return found


@dataclass
class Prepared(Result):
    """`dcgan data prepare`: what the cache holds now."""

    command = "data prepare"
    manifest: dict[str, Any]
    cache_dir: Path

    def to_dict(self) -> dict[str, Any]:
        return self.manifest | {"path": str(self.cache_dir)}

    def lines(self) -> list[str]:
        m = self.manifest
        skipped = f", skipped {m['skipped']} unreadable or over-large file(s)" if m.get("skipped") else ""
        out = [f"{m['dataset']} {m['split']}: {m['count']} images of {m['shape'][1]}x{m['size']}x{m['size']} "
               f"in {shown(self.cache_dir)}{skipped}"]
        names = m.get("skipped_files") or []
        if names:
            more = m["skipped"] - min(len(names), 20)
            out.append(f"skipped files: {shown(', '.join(names[:20]))}" + (f" and {more} more" if more > 0 else ""))
        for folder in m.get("unreadable_folders") or []:
            out.append(f"skipped folder {shown(folder)}: it cannot be read (permission denied?); its images are not in the cache")
        return out


def prepare(name: str, size: int, **options: Any) -> Prepared:
    """Build (or find up to date) the cache of one split; `options` as load_data's."""
    data = load_data(name, size, **options)
    return Prepared(manifest=read_manifest(data.cache_dir), cache_dir=data.cache_dir)


@dataclass
class CacheListing(Result):
    """`dcgan data info`: every prepared cache."""

    command = "data info"
    caches: list[dict[str, Any]]

    def to_dict(self) -> list[dict[str, Any]]:  # type: ignore[override]  # a list, as `data info --json` always printed
        return self.caches

    def lines(self) -> list[str]:
        if not self.caches:
            return ["no prepared data sets yet; run `dcgan data prepare` or `dcgan train`"]
        out = []
        for c in self.caches:
            labels = ", ".join(c["label_names"][:6]) + (" ..." if len(c["label_names"]) > 6 else "")
            name = c["dataset"] + (" (damaged: rebuild it)" if c.get("damaged") else "")
            out.append(shown(f"{name} {c['split']}: {c['count']} images, {'x'.join(map(str, c['shape'][1:]))}, "
                             f"{c['bytes'] / 1e6:.1f} MB, labels {labels or '-'}, from {c['source']}"))
        return out


def cache_listing(cache_root: Path | None = None) -> CacheListing:
    return CacheListing(caches=list_caches(cache_root))
