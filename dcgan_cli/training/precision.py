"""Mixed precision for the training step: autocast around the forward passes, and for fp16 one
gradient scaler per network (G and D step at different times, so each keeps its own scale)."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import CheckpointError
from ..core.errors import UsageError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # CPU features that run bf16 natively (else oneDNN emulates it)


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags (Linux), or None where the system does not say."""
    return _read_flags(Path("/proc/cpuinfo"))


def _read_flags(cpuinfo: Path) -> set[str] | None:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    return {f for line in text.splitlines() if line.startswith(("flags", "Features")) for f in line.split(":", 1)[1].split()}


def native_bf16(device: torch.device) -> tuple[bool, str]:
    """Whether `device` computes bf16 natively, and why we think so."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        if torch.cuda.is_bf16_supported():
            return True, f"{name} computes bf16 natively"
        return False, f"{name} has no native bf16"
    if device.type == "cpu":
        flags = cpu_flags()
        if flags is None:
            return False, "this system does not list the CPU's features, so bf16 may be emulated"
        found = [f for f in BF16_CPU_FLAGS if f in flags]
        if found:
            return True, f"this CPU reports {' and '.join(found)}"
        return False, "this CPU has neither avx512_bf16 nor AMX: bf16 would be emulated, slower than fp32"
    return False, f"bf16 autocast on {device.type} is not faster than fp32 reliably"


def resolve_precision(cfg, device: torch.device | str):
    """The TrainConfig with `precision` auto and `channels_last` None decided for `device`: bf16
    autocast + channels_last where bf16 is native (measured on avx512_bf16 CPUs: bf16 alone is
    slower than fp32 there, bf16 + channels_last faster), fp32 elsewhere. Given values stay."""
    device = torch.device(device)
    if cfg.precision != "auto":  # given, or decided when the run began (a resumed run keeps it and its reason)
        return dataclasses.replace(cfg, channels_last=bool(cfg.channels_last))
    native, why = native_bf16(device)
    chosen = "bf16" if native else "fp32"
    layout = cfg.channels_last if cfg.channels_last is not None else native
    how = chosen + (" + channels_last" if layout else "")
    return dataclasses.replace(cfg, precision=chosen, channels_last=layout, precision_auto=f"{how} ({why})")


def precision_line(cfg) -> str:
    """What the run will compute in, said before it starts."""
    if cfg.precision_auto:
        return f"precision auto: {cfg.precision_auto}; --precision fp32|bf16|fp16 forces one"
    return f"precision {cfg.precision}{' + channels_last' if cfg.channels_last else ''} (as given)"


class Precision:
    def __init__(self, name: str, device: torch.device):
        if name == "fp16" and device.type != "cuda":
            raise UsageError(f"--precision fp16 needs CUDA (gradient scaling); on {device.type} use bf16 or fp32")
        self.name = name
        self.dtype = DTYPES[name]
        self.device_type = device.type
        self.scalers = {net: torch.amp.GradScaler(device.type) for net in ("g", "d")} if name == "fp16" else {}

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, net: str, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        """Backward and optimizer step for G ("g") or D ("d"); fp16 skips a step whose gradients overflowed."""
        scaler = self.scalers.get(net)
        if scaler is None:
            loss.backward()
            opt.step()
            return
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    def state(self) -> dict[str, Any] | None:
        """The scalers' state for a checkpoint (JSON), so an fp16 run resumes with its scales."""
        return {net: s.state_dict() for net, s in self.scalers.items()} or None

    def load(self, state: dict[str, Any] | None, where: str) -> None:
        if not self.scalers or not state:
            return
        try:
            for net, scaler in self.scalers.items():
                scaler.load_state_dict(state[net])
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{where}: its gradient-scaler state cannot be restored ({e}); it is not resumable") from None
