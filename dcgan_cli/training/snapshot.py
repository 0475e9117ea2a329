"""A training run's state in a checkpoint, both directions: the networks, both Adam states and every
process's random streams, so that a resumed run continues bit for bit. The file itself (its
metadata, its validation, where it lies) is core/checkpoint.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import Checkpoint, CheckpointError, check_finite, run_checkpoints
from ..core.errors import UsageError
from ..core.runs import RunFolder


def rng_state(z_stream: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """This process's random state: the global CPU generator (init, dropout), the z stream, CUDA's.
    (The z stream is stored as rng/noise, its name since the format's first version.)"""
    state = {"torch": torch.get_rng_state(), "noise": z_stream.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def training_snapshot(G, D, opt_g, opt_d, rng_states: list[dict[str, torch.Tensor]], G_ema=None,
                      scalers: dict[str, Any] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything a resumed run needs beyond the configs: (tensors, metadata entries).

    `rng_states` holds one `rng_state` per process in rank order: rank 0's as rng/KIND, rank r's
    as rng/rankR/KIND, so a data-parallel run resumes each rank's streams exactly. `scalers`:
    fp16 gradient scalers' state dicts by name.
    """
    tensors: dict[str, torch.Tensor] = {}
    tensors |= {f"G/{k}": v for k, v in G.state_dict().items()}
    if G_ema is not None:
        tensors |= {f"G_ema/{k}": v for k, v in G_ema.state_dict().items()}
    tensors |= {f"D/{k}": v for k, v in D.state_dict().items()}
    meta: dict[str, Any] = {"world_size": len(rng_states)}
    for prefix, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
        sd = opt.state_dict()
        tensors |= {f"{prefix}/{idx}/{key}": value for idx, state in sd["state"].items() for key, value in state.items()}
        meta[f"{prefix}_groups"] = sd["param_groups"]
    for rank, state in enumerate(rng_states):
        tensors |= {_rng_key(rank, kind): value for kind, value in state.items()}
    if scalers:
        meta["scalers"] = scalers
    return tensors, meta


def _rng_key(rank: int, kind: str) -> str:
    return f"rng/{kind}" if rank == 0 else f"rng/rank{rank}/{kind}"


def stored_world_size(ckpt: Checkpoint) -> int:
    """How many processes wrote this run's last steps (1 for checkpoints from before data parallelism)."""
    return int(ckpt.meta.get("world_size", 1))


def restore_training(ckpt: Checkpoint, G, D, opt_g, opt_d, z_stream: torch.Generator, device: torch.device, G_ema=None,
                     rank: int = 0) -> bool:
    """The inverse of training_snapshot: weights, both Adam states, and this rank's RNG states.

    Returns False when the checkpoint holds no streams for `rank` (it was written by fewer
    processes): the caller keeps the fresh seeds it drew, and the run is no longer bit-exact.
    """
    G.load_state_dict(ckpt.state_dict("G"))
    D.load_state_dict(ckpt.state_dict("D"))
    if G_ema is not None:
        # A run that turns --ema on when resumed starts its average from the current G.
        G_ema.load_state_dict(ckpt.state_dict("G_ema") if ckpt.has_ema else ckpt.state_dict("G"))
    for prefix, opt in (("opt_g", opt_g), ("opt_d", opt_d)):
        groups = ckpt.meta.get(f"{prefix}_groups")
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in ckpt.tensors.items():
            parts = name.split("/")
            if parts[0] == prefix and len(parts) == 3 and parts[1].isdigit():
                state.setdefault(int(parts[1]), {})[parts[2]] = value
        params = [p for group in opt.param_groups for p in group["params"]]
        for idx, st in state.items():
            for key, value in st.items():
                check_finite(ckpt.path, f"{prefix}/{idx}/{key}", value)
                if key != "step" and (idx >= len(params) or value.shape != params[idx].shape):
                    want = tuple(params[idx].shape) if idx < len(params) else "no such parameter"
                    raise CheckpointError(f"{ckpt.path}: optimizer tensor {prefix}/{idx}/{key} has shape {tuple(value.shape)}, "
                                          f"its parameter {want}; the file is damaged and not resumable")
        try:
            opt.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, TypeError, RuntimeError) as e:
            raise CheckpointError(
                f"{ckpt.path}: the {prefix} optimizer state cannot be restored ({e}); it is not resumable"
            ) from None
    for key in ("rng/torch", "rng/noise"):
        if key not in ckpt.tensors or ckpt.tensors[key].dtype != torch.uint8:
            raise CheckpointError(f"{ckpt.path} lacks a valid {key} state; it is not resumable")
    if _rng_key(rank, "noise") not in ckpt.tensors:
        return False
    try:
        for kind in ("torch", "noise"):
            value = ckpt.tensors.get(_rng_key(rank, kind))
            if value is None or value.dtype != torch.uint8:
                raise ValueError(f"{_rng_key(rank, kind)} is missing")
        torch.set_rng_state(ckpt.tensors[_rng_key(rank, "torch")])
        z_stream.set_state(ckpt.tensors[_rng_key(rank, "noise")])
        if device.type == "cuda" and _rng_key(rank, "cuda") in ckpt.tensors:
            torch.cuda.set_rng_state(ckpt.tensors[_rng_key(rank, "cuda")], device)
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: its RNG state is damaged ({e}); it is not resumable") from None
    return True


def refuse_a_run_in(run: RunFolder) -> None:
    """A new run never writes into a folder that holds another run's checkpoints, nor inside another run's
    folder (`--out runs/a/checkpoints` once nested a run in another's checkpoints/)."""
    if run_checkpoints(run):
        raise UsageError(f"{run.path} already holds a run; continue it with --resume {run.path} or pick another --out")
    for parent in Path(run.path).resolve().parents:
        if RunFolder(parent).is_run():
            raise UsageError(f"--out {run.path} is inside the run folder {parent}; give a folder outside it")
