"""Data-parallel training across processes: torchrun's environment, the process group, and the
few collectives the training loop needs.

PyTorch's own launcher (torchrun) starts the processes and sets RANK, WORLD_SIZE and LOCAL_RANK;
this module only reads them. With one process (no torchrun) every collective is a local no-op,
so the loop has one code path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch

from ..core.errors import DcganError, UsageError

T = TypeVar("T")

# Rank 0 may prepare a data set or measure quality while the others wait at a collective.
TIMEOUT = timedelta(hours=2)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone writes the run folder and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    # --- collectives (every rank must call them at the same point)

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when `flag` is true on any rank."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=_comm_device(device))
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: T) -> list[T]:
        """Every rank's `obj`, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.size
        torch.distributed.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's `obj` on every rank."""
        if not self.active:
            return obj
        box = [obj if self.main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            torch.distributed.barrier()


def _comm_device(device: torch.device) -> torch.device:
    return device if device.type == "cuda" else torch.device("cpu")


def from_env(environ: dict[str, str] | None = None) -> World:
    """The world torchrun describes in the environment; one process when it describes none."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return World()
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env.get("RANK", "0"))
        local = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise UsageError("WORLD_SIZE, RANK and LOCAL_RANK must be integers (they are set by torchrun)") from None
    if size < 1 or not 0 <= rank < size or local < 0:
        raise UsageError(f"RANK {rank} and WORLD_SIZE {size} do not describe a process group (they are set by torchrun)")
    return World(rank, size, local)


def start(device: torch.device) -> tuple[World, torch.device]:
    """Join torchrun's process group (nccl on CUDA, gloo otherwise) and pick this rank's device.

    Returns the world and the device this process trains on: on CUDA, card LOCAL_RANK.
    """
    world = from_env()
    if not world.active:
        return world, device
    import torch.distributed as dist

    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise UsageError(
                f"local rank {world.local_rank} has no GPU: this machine has {torch.cuda.device_count()}; "
                "give torchrun --nproc-per-node at most that many"
            )
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise UsageError(
            f"data-parallel training runs on CUDA (nccl) or the CPU (gloo), not {device.type}; use --device cpu or cuda"
        )
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        try:
            dist.init_process_group(backend, timeout=TIMEOUT, **({"device_id": device} if device.type == "cuda" else {}))
        except (RuntimeError, ValueError) as e:
            raise DcganError(f"could not join the process group ({backend}): {str(e).splitlines()[0]}") from None
    return world, device


def stop() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """A per-rank seed for z and dropout: rank 0 keeps the run's seed, so one process trains as before."""
    return seed if rank == 0 else (seed * 1_000_003 + rank * 7_919) % 2**63


def shard(order: torch.Tensor, step_in_epoch: int, batch: int, world: World) -> torch.Tensor:
    """This rank's indices for one step: disjoint slices of the epoch's order, rank after rank."""
    start = (step_in_epoch * world.size + world.rank) * batch
    return order[start : start + batch]


def on_main(world: World, fn, *args, **kwargs):
    """fn's result on rank 0 (None elsewhere); an error there is raised on every rank, so all ranks
    stop with the one message instead of waiting for rank 0 until the timeout."""
    if not world.active:
        return fn(*args, **kwargs)
    result, error = None, None
    if world.main:
        try:
            result = fn(*args, **kwargs)
        except DcganError as e:
            error = e
    error = world.broadcast(error)
    if error is not None:
        if not world.main:
            error.said_on_rank0 = True  # rank 0 prints it; the others exit with its code in silence
        raise error
    return result


def train_args(argv: list[str]) -> list[str]:
    """The arguments after `train` in a `dcgan train --nproc N ...` command line, without --nproc."""
    if "train" not in argv:
        raise UsageError("--nproc works from the command line (dcgan train --nproc N ...)")
    kept, skip = [], False
    for a in argv[argv.index("train") + 1 :]:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            kept.append(a)
    return kept


def launch(nproc: int, argv: list[str]) -> int:
    """Run `dcgan train` in nproc processes on this machine through torch's elastic launcher (what
    torchrun --standalone runs); returns the exit code of the first process that failed, or 0.

    Ctrl-C reaches every process of the terminal's group: the ranks agree to stop and save.
    """
    import logging
    import sys
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if from_env().active:
        raise UsageError("--nproc starts the processes itself; under torchrun leave it out")
    if not 1 <= nproc <= 1024:
        raise UsageError(f"--nproc must be 1 to 1024, got {nproc}")
    args = train_args(argv)
    # The launcher logs each failed process at length; the processes' own one-line errors say it.
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4().int), rdzv_backend="c10d",
                          rdzv_endpoint="localhost:0", max_restarts=0, shutdown_timeout=120)
    try:
        elastic_launch(config, entrypoint=sys.executable)("-m", "dcgan_cli", "train", *args)
    except ChildFailedError as e:
        codes = [f.exitcode for f in e.failures.values()]
        return next((c for c in codes if c and c > 0), 1)
    except Exception as e:  # the launcher's SignalException when Ctrl-C or SIGTERM stopped the run
        if type(e).__name__ == "SignalException":
            return 130
        raise
    return 0
