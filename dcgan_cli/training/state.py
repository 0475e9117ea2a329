"""What training holds in memory: the networks, optimizers and z stream (TrainingState), and the
same networks wrapped for data parallelism or compilation (Wrapped). A checkpoint holds the state."""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..core.checkpoint import Checkpoint, run_best
from ..core.configs import ModelConfig, TrainConfig
from ..core.model import Discriminator, Generator
from .distributed import World, rank_seed
from .precision import Precision
from .snapshot import restore_training
from .steps import make_optimizers


@dataclass
class TrainingState:
    """What changes as training runs, all of which a checkpoint holds: the networks, both Adam
    states, the z stream (a CPU generator, so every device draws the same z), the counters."""

    G: Generator
    D: Discriminator
    G_ema: Generator | None
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    z_stream: torch.Generator
    amp: Precision
    step: int = 0
    last: dict[str, float] = field(default_factory=dict)  # the last logged metrics
    best: dict[str, Any] = field(default_factory=dict)  # the best evaluation so far: metric, value, step

    @classmethod
    def create(cls, model_cfg: ModelConfig, cfg: TrainConfig, device: torch.device, world: World,
               resume: Checkpoint | None, same_run: bool) -> TrainingState:
        torch.manual_seed(cfg.seed)  # weight init draws from the global generator: the same on every rank
        G, D = Generator(model_cfg), Discriminator(model_cfg)
        G_ema = copy.deepcopy(G).requires_grad_(False) if cfg.ema else None
        opt_g, opt_d = make_optimizers(G, D, cfg)
        if world.active:
            torch.manual_seed(rank_seed(cfg.seed, world.rank))  # dropout differs between ranks
        state = cls(G, D, G_ema, opt_g, opt_d, torch.Generator().manual_seed(rank_seed(cfg.seed, world.rank)),
                    Precision(cfg.precision, device))
        if resume is not None:
            restore_training(resume, G, D, opt_g, opt_d, state.z_stream, device, G_ema, rank=world.rank)
            state.amp.load(resume.meta.get("scalers"), str(resume.path))
            state.step, state.last = resume.step, dict(resume.metrics)
            # a best whose file is gone or damaged is forgotten, so that the next measurement keeps a new one
            kept = same_run and resume.run is not None and run_best(resume.run) is not None
            state.best = dict(resume.meta.get("best") or {}) if kept else {}
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        G.to(device, memory_format=memory_format).train()
        D.to(device, memory_format=memory_format).train()
        if G_ema is not None:
            G_ema.to(device, memory_format=memory_format).eval()
        # Adam's state follows its parameters when loaded before the move; move it explicitly too.
        for opt in (opt_g, opt_d):
            for st in opt.state.values():
                for k, v in st.items():
                    if torch.is_tensor(v) and k != "step":
                        st[k] = v.to(device)
        return state

    def shown(self) -> nn.Module:
        """What sample, evaluate and the grids use: the EMA generator when there is one."""
        return self.G_ema if self.G_ema is not None else self.G


@dataclass
class Wrapped:
    """What trains: G and D themselves, or wrapped for data parallelism and compiled. The plain
    modules (sharing the same weights) are what checkpoints, grids and evaluation use."""

    G: nn.Module
    D: nn.Module
    d_local: Callable[[], contextlib.AbstractContextManager]  # a data-parallel D's no_sync
    d_params: list[nn.Parameter]


def wrap(state: TrainingState, cfg: TrainConfig, world: World, device: torch.device) -> Wrapped:
    G_run, D_run, d_local = state.G, state.D, contextlib.nullcontext
    if world.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if cfg.sync_bn:
            G_run, D_run = nn.SyncBatchNorm.convert_sync_batchnorm(G_run), nn.SyncBatchNorm.convert_sync_batchnorm(D_run)
        # No buffer sync per forward: D runs twice (real, fake) before one backward, and a buffer
        # broadcast in between would modify its batch-norm statistics in place (pytorch #22095).
        # Each rank keeps its own running statistics; rank 0's are the ones saved.
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                   else {"broadcast_buffers": False})  # the older name, before torch 2.13
        ids = [device.index] if device.type == "cuda" else None
        G_run = DDP(G_run, device_ids=ids, **no_sync)
        D_run = DDP(D_run, device_ids=ids, **no_sync)
        d_local = D_run.no_sync
    if cfg.compile:
        G_run, D_run = torch.compile(G_run), torch.compile(D_run)
    return Wrapped(G_run, D_run, d_local, list(state.D.parameters()))
