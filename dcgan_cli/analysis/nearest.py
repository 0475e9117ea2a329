"""Exact squared-L2 nearest images, streamed over a uint8 array (usually a memory-mapped cache).

Distances live in the model's pixel space ([-1, 1], model size and channels). Each chunk of
the cache becomes one matrix product (||q||^2 - 2 q.x + ||x||^2) on the chosen device and the
running top-k is merged chunk by chunk, so the data set is never copied whole into float.
The float32 expansion can round two nearly equal distances the wrong way, so a few extra
candidates are kept and their distances recomputed exactly in float64 before the final ranking
(ties go to the lower index).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import UsageError
from ..pixels import flat_model_range, to_pixel_units

DEFAULT_MEMORY_MB = 256
_EXTRA = 16  # candidates kept beyond k for the exact float64 re-ranking


@dataclass
class Neighbours:
    indices: torch.Tensor  # (Q, k) int64, into the searched array
    distances: torch.Tensor  # (Q, k) float64, squared L2 in [-1, 1] pixel space


def chunk_rows(dim: int, memory_mb: float = DEFAULT_MEMORY_MB) -> int:
    """Rows per chunk so that one float32 chunk fits the memory budget."""
    return max(1, int(memory_mb * 2**20 // (dim * 4)))


def nearest(
    queries: torch.Tensor,
    data: np.ndarray,
    k: int,
    *,
    chunk_size: int | None = None,
    device: torch.device | str = "cpu",
    on_progress: Callable[[int, int], None] | None = None,
) -> Neighbours:
    """The k nearest rows of `data` (N, ...) uint8 for each query (Q, ...) in [-1, 1]."""
    n = int(data.shape[0])
    dim = int(np.prod(data.shape[1:]))
    q = queries.reshape(queries.shape[0], -1)
    if q.shape[1] != dim:
        raise UsageError(
            f"a query has {q.shape[1]} values but the data set's images have {dim} ({'x'.join(map(str, data.shape[1:]))})"
        )
    if not 1 <= k <= n:
        raise UsageError(f"--k {k} is out of range: the data set has {n} images, so use 1 to {n}")
    device = torch.device(device)
    if chunk_size is not None and chunk_size < 1:
        raise UsageError(f"--chunk-size must be at least 1, got {chunk_size}")
    chunk_size = chunk_size or chunk_rows(dim)
    keep = min(n, k + _EXTRA)
    # Work in pixel units, u = (x + 1) * 127.5, so a chunk needs one uint8->float pass and one
    # norm, with no affine pass over it: ||q - x||^2 = ||q' - u||^2 / 127.5^2.
    qd = to_pixel_units(q.to(device, torch.float32))  # (Q, D)
    qq = (qd * qd).sum(1, keepdim=True)  # (Q, 1)
    best_d = torch.empty(q.shape[0], 0, device=device)
    best_i = torch.empty(q.shape[0], 0, dtype=torch.long, device=device)

    # On the CPU one float buffer, reused: converting into memory that is already mapped is ~7x
    # faster than into a fresh tensor per chunk, whose page faults cost more than the conversion.
    # The conversion runs inline: a reader thread would only compete with the GEMM's threads
    # (benchmarks/nn_speed.py). On CUDA a thread pins the next uint8 chunk while this one multiplies.
    buffer = torch.empty(min(chunk_size, n), dim) if device.type == "cpu" else None

    def read(start: int) -> torch.Tensor:
        with warnings.catch_warnings():  # the map is read-only and is only ever read here
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            x = torch.from_numpy(np.asarray(data[start : start + chunk_size])).reshape(-1, dim)
        if buffer is not None:
            return buffer[: x.shape[0]].copy_(x)
        return x.pin_memory() if device.type == "cuda" else x  # uint8 crosses the bus (4x less), float there

    starts = list(range(0, n, chunk_size))
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read, starts[0]) if buffer is None else None
        for j, start in enumerate(starts):
            if buffer is not None:
                raw = read(start)
            else:
                raw = pending.result()
                if j + 1 < len(starts):
                    pending = pool.submit(read, starts[j + 1])
            u = raw.to(device, non_blocking=True).float()  # (c, D)
            uu = torch.linalg.vector_norm(u, dim=1).square_()  # (c,)
            # u @ q.T, not q @ u.T: with the long side first the CPU GEMM runs ~2.5x faster here.
            d = qq - 2.0 * (u @ qd.T).T + uu[None]  # (Q, c), pixel units squared; only the order matters here
            idx = torch.arange(start, start + u.shape[0], device=device).expand_as(d)
            # Earlier chunks hold lower indices, so a stable sort of [best, chunk] breaks ties by index.
            all_d, all_i = torch.cat([best_d, d], 1), torch.cat([best_i, idx], 1)
            order = torch.sort(all_d, dim=1, stable=True).indices[:, :keep]
            best_d, best_i = all_d.gather(1, order), all_i.gather(1, order)
            if on_progress is not None:
                on_progress(min(start + chunk_size, n), n)

    # Exact re-ranking of the candidates in float64, on the CPU (Q x keep images: small).
    cand = best_i.cpu()
    qc = q.double().cpu()
    uniq = np.unique(cand.numpy())
    xs = flat_model_range(data[uniq])  # (U, D): each candidate image read once
    pos = torch.from_numpy(np.searchsorted(uniq, cand.numpy()))  # (Q, keep) rows of xs
    exact = torch.stack([((xs[pos[r]] - qc[r]) ** 2).sum(1) for r in range(cand.shape[0])])
    # Sort by (distance, index): index order first, then a stable sort by distance.
    by_index = torch.argsort(cand, dim=1)
    cand, exact = cand.gather(1, by_index), exact.gather(1, by_index)
    order = torch.sort(exact, dim=1, stable=True).indices[:, :k]
    return Neighbours(cand.gather(1, order), exact.gather(1, order))


def brute_force(queries: torch.Tensor, data: np.ndarray, k: int) -> Neighbours:
    """Reference: every distance in float64, ranked by (distance, index). For tests and checks."""
    x = flat_model_range(data)
    q = queries.reshape(queries.shape[0], -1).double()
    d = ((q[:, None, :] - x[None]) ** 2).sum(-1)
    order = torch.sort(d, dim=1, stable=True).indices[:, :k]
    return Neighbours(order, d.gather(1, order))
