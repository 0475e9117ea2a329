"""One device selector for every command: CUDA, then MPS, then CPU."""

from __future__ import annotations

import re

import torch

from .errors import UsageError


def select_device(name: str = "auto") -> torch.device:
    """Resolve auto|cpu|cuda|cuda:N|mps to a device that exists here, or raise a clear error."""
    name = name.strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise UsageError("--device mps was asked for but MPS is not available on this machine; use --device auto or cpu")
        return torch.device("mps")
    m = re.fullmatch(r"cuda(?::(\d+))?", name)
    if m:
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name} was asked for but CUDA is not available on this machine; use --device auto or cpu")
        index = int(m.group(1) or 0)
        count = torch.cuda.device_count()
        if index >= count:
            raise UsageError(f"--device {name}: this machine has {count} CUDA device(s), numbered 0 to {count - 1}")
        return torch.device("cuda", index)
    raise UsageError(f"--device {name!r} is not a device; use auto, cpu, cuda, cuda:N or mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())
