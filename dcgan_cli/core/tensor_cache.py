"""Derived tensors kept on disk (a classifier's weights, a sample bank, real features).

Each file is safetensors with one JSON metadata entry, written atomically. A cache file is
never trusted: one that does not read back whole, or whose metadata or tensor shapes are not
what the caller expects, is deleted and rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from .files import write_bytes

META_KEY = "dcgan_cli_cache"


def read_cached(path: Path, check: Callable[[dict[str, torch.Tensor], dict[str, Any]], bool] | None = None,
                ) -> tuple[dict[str, torch.Tensor], dict[str, Any]] | None:
    """(tensors, metadata) of a cache file, or None when it is missing or damaged (then removed)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})[META_KEY])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if not isinstance(meta, dict) or not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
            raise ValueError("damaged")
        if check is not None and not check(tensors, meta):
            raise ValueError("not what was asked for")
        return tensors, meta
    except Exception:  # safetensors raises its own types; any failure means rebuild
        path.unlink(missing_ok=True)
        return None


def write_cached(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any], *, what: str) -> Path:
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    return write_bytes(Path(path), st_save(flat, metadata={META_KEY: json.dumps(meta)}), what=what)
