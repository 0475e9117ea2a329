"""Latent vectors kept in files (`NAME.z.safetensors`): what `dcgan project` writes and every
latent command reads (interpolate's ends, arithmetic's anchor, nn-search's queries).

A z means something only to the generator it was found for, so the file records that generator's
fingerprint (a hash of its weights) and a z file from another checkpoint is refused, not silently
drawn into a different picture. The file is data: its metadata is read as JSON and checked, never
used as a path or code.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.errors import UsageError
from ..core.files import why_missing, write_bytes
from ..core.results import shown

SUFFIX = ".z.safetensors"
META_KEY = "dcgan_cli_latent"
MAX_ROWS = 10_000


def generator_fingerprint(G: torch.nn.Module) -> str:
    """A hash of a generator's weights and buffers: equal only for the same trained G."""
    h = hashlib.sha256()
    for name, t in sorted(G.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:24]


def is_latent_file(path: str | Path) -> bool:
    return str(path).endswith(SUFFIX)

FAR = 100  # a z this many times the prior's typical norm is no draw of it (a doctored or broken file)
MAX_PRIOR_SCALE = 100.0  # the largest --z-scale configs.py lets a model train with


@dataclass
class LatentFile:
    z: torch.Tensor  # (N, nz) float32
    meta: dict[str, Any]  # fingerprint, checkpoint, step, generator, source, and what the writer adds

    @property
    def label(self) -> str:
        """The picture it came from, as the file says: escaped (one line, no control characters), at most 80."""
        return shown(str(self.meta.get("source") or "z file"))[:80]


def save_latents(path: Path, z: torch.Tensor, *, fingerprint: str, **meta: Any) -> Path:
    from safetensors.torch import save as st_save

    record = {"fingerprint": fingerprint, **meta}
    data = st_save({"z": z.detach().float().cpu().contiguous()}, metadata={META_KEY: json.dumps(record)})
    return write_bytes(Path(path), data, what="z file")


def load_latents(path: str | Path, *, nz: int, fingerprint: str, flag: str, z_scale: float = 1.0) -> LatentFile:
    """A z file for this generator: (N, nz) finite floats, its fingerprint equal to `fingerprint`, no
    row over FAR times the typical |z| of the generator's prior (sqrt(nz) * its z_scale).
    Anything else is a one-line UsageError naming the file and what to do."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{flag} {path} {why_missing(path) if not path.exists() else 'is not a file'}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})[META_KEY])
            if set(f.keys()) != {"z"}:
                raise ValueError("no z")
            z = f.get_tensor("z")
    except Exception:  # safetensors raises its own types; every failure means the same to a user
        raise UsageError(f"{flag} {path} is not a z file written by `dcgan project`") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), str):
        raise UsageError(f"{flag} {path} is not a z file written by `dcgan project`")
    if not z.is_floating_point():
        raise UsageError(f"{flag} {path} holds z of type {str(z.dtype).removeprefix('torch.')}; a z file holds floats "
                         "(write it with `dcgan project` or as float32)")
    if z.dim() != 2 or z.shape[1] != nz or not 1 <= z.shape[0] <= MAX_ROWS:
        raise UsageError(f"{flag} {path} holds z of shape {tuple(z.shape)}; this model's z has {nz} numbers")
    if not torch.isfinite(z).all():
        raise UsageError(f"{flag} {path} holds non-finite numbers; project the image again")
    typical = nz**0.5 * min(max(z_scale, 1e-6), MAX_PRIOR_SCALE)
    norm = float(z.double().norm(dim=1).max())
    if norm > FAR * typical:  # the limit the message states: FAR times this prior's typical |z|
        raise UsageError(f"{flag} {path} holds z of norm {norm:.3g}, {norm / typical:,.0f}x this generator's typical |z| "
                         f"(about {typical:.3g}; at most {FAR}x is read); G never saw anything like it: project the image again")
    if meta["fingerprint"] != fingerprint:
        made = f" (found for {meta.get('checkpoint')}, step {meta.get('step')}, {meta.get('generator')})" \
            if isinstance(meta.get("checkpoint"), str) else ""
        raise UsageError(f"{flag} {path} was found for another generator{made}; a z means nothing to another G: "
                         "project the image again with this checkpoint")
    return LatentFile(z.float(), meta)
