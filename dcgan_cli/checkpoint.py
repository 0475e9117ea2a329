"""The checkpoint format and the one loader every command uses.

A checkpoint is a single `.safetensors` file: tensors for G, D, both Adam states and the RNG
states, plus one JSON metadata entry holding the format version, package version, model and
training configs, data set description, and the epoch/step counters. Nothing is pickled, and
nothing here calls `torch.load`. Files are validated before use so that a bad one gives a
one-line reason instead of a traceback.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from . import __version__
from .errors import DcganError
from .model import Discriminator, Generator, ModelConfig

META_KEY = "dcgan_cli"
FORMAT_VERSION = 1
CKPT_DIR = "checkpoints"
_MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(DcganError):
    pass


@dataclass
class Checkpoint:
    """A validated checkpoint: configs and counters from the metadata, tensors by name."""

    path: Path
    model_config: ModelConfig
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)

    @property
    def train_config(self) -> dict[str, Any]:
        return self.meta.get("train", {})

    @property
    def dataset(self) -> dict[str, Any]:
        return self.meta.get("dataset", {})

    @property
    def epoch(self) -> int:
        return int(self.meta.get("epoch", 0))

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "/"
        return {k[len(p) :]: v for k, v in self.tensors.items() if k.startswith(p)}

    def generator(self, device: torch.device | str = "cpu") -> Generator:
        """G with the stored weights, in eval mode (batch norm uses its running statistics)."""
        g = Generator(self.model_config)
        g.load_state_dict(self.state_dict("G"))
        return g.to(device).eval()

    def discriminator(self, device: torch.device | str = "cpu") -> Discriminator:
        d = Discriminator(self.model_config)
        d.load_state_dict(self.state_dict("D"))
        return d.to(device).eval()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write tensors + metadata atomically. `meta` must hold "model" (a ModelConfig dict)."""
    full_meta = {"format_version": FORMAT_VERSION, "package_version": __version__, **meta}
    # safetensors wants contiguous CPU tensors; channels_last weights are not contiguous.
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = st_save(flat, metadata={META_KEY: json.dumps(full_meta)})
    atomic_write_bytes(Path(path), data)
    return Path(path)


def resolve_checkpoint(target: str | Path | None, runs_dir: str | Path = "runs") -> Path:
    """A file is itself; a run folder gives its newest checkpoint; None gives the newest under runs_dir."""
    if target is None:
        root = Path(runs_dir)
        found = _newest(root.glob(f"*/{CKPT_DIR}/*.safetensors")) if root.is_dir() else None
        if found is None:
            raise CheckpointError(f"no checkpoint found under ./{root}; train one with `dcgan train` or pass a checkpoint path")
        return found
    p = Path(target)
    if p.is_dir():
        found = _newest(list(p.glob(f"{CKPT_DIR}/*.safetensors")) + list(p.glob("*.safetensors")))
        if found is None:
            raise CheckpointError(f"{p} holds no checkpoint (looked for {p / CKPT_DIR}/*.safetensors)")
        return found
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist; pass a .safetensors file or a run folder")
    return p


def _newest(paths) -> Path | None:
    paths = [p for p in paths if p.is_file()]
    if not paths:
        return None
    return max(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))


def list_checkpoints(run_dir: Path) -> list[Path]:
    """A run's checkpoints, oldest first."""
    return sorted((Path(run_dir) / CKPT_DIR).glob("*.safetensors"), key=lambda p: (p.stat().st_mtime_ns, p.name))


def read_header(path: Path) -> dict[str, Any]:
    """Parse and sanity-check a safetensors header without trusting the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path} is not a safetensors file (only {size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER:
            raise CheckpointError(f"{path} is not a safetensors file (no valid header)")
        if 8 + n > size:
            raise CheckpointError(f"{path} is truncated: its header needs {8 + n} bytes but the file has {size}")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object)")
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v), default=0)
    if 8 + n + end > size:
        raise CheckpointError(f"{path} is truncated: its tensors need {8 + n + end} bytes but the file has {size}; use an earlier checkpoint")
    return header


def load_checkpoint(target: str | Path | None = None, runs_dir: str | Path = "runs") -> Checkpoint:
    """The one loader: resolve, validate the file, check every tensor against the stored config."""
    path = resolve_checkpoint(target, runs_dir)
    header = read_header(path)
    raw_meta = (header.get("__metadata__") or {}).get(META_KEY)
    if raw_meta is None:
        raise CheckpointError(f"{path} is a safetensors file but not a dcgan-cli checkpoint (no '{META_KEY}' metadata)")
    try:
        meta = json.loads(raw_meta)
        version = int(meta["format_version"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path} has unreadable dcgan-cli metadata; the file is damaged") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer dcgan-cli (format {version}, this one reads up to {FORMAT_VERSION}); "
            "upgrade with `pip install -U dcgan-cli`"
        )
    try:
        cfg = ModelConfig.from_dict(meta["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} holds an invalid model config: {e}") from None
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged payloads
        raise CheckpointError(f"{path} could not be read as safetensors: {e}") from None
    _check_weights(path, cfg, tensors)
    return Checkpoint(path=path, model_config=cfg, meta=meta, tensors=tensors)


def _check_weights(path: Path, cfg: ModelConfig, tensors: dict[str, torch.Tensor]) -> None:
    with torch.device("meta"):
        expected = {f"G/{k}": v.shape for k, v in Generator(cfg).state_dict().items()}
        expected |= {f"D/{k}": v.shape for k, v in Discriminator(cfg).state_dict().items()}
    missing = [k for k in expected if k not in tensors]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise CheckpointError(f"{path} is missing tensors: {missing[0]}{more}; the file is incomplete")
    for k, shape in expected.items():
        if tensors[k].shape != shape:
            raise CheckpointError(
                f"{path}: weights do not match the stored config: {k} has shape {tuple(tensors[k].shape)} "
                f"but size={cfg.size}, nc={cfg.nc}, ngf={cfg.ngf}, ndf={cfg.ndf} needs {tuple(shape)}"
            )
