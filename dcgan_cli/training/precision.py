"""Mixed precision for the training step: autocast around the forward passes, and for fp16 one
gradient scaler per network (G and D step at different times, so each keeps its own scale)."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from ..checkpoint import CheckpointError
from ..errors import UsageError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


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
