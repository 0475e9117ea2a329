"""Exact squared-L2 nearest images, streamed over a uint8 array (usually a memory-mapped cache).

Distances live in the model's pixel space ([-1, 1], model size and channels). Each chunk of
the cache becomes one matrix product (||q||^2 - 2 q.x + ||x||^2) and the running top-k is
merged chunk by chunk, so the data set is never copied whole into float. The answer is always
the float64 ranking of the candidates found (ties go to the lower index).

On the CPU the product is in integers: the data are uint8, so with x - 128 and the query
rounded to uint8 (as its PNG would be) and shifted alike, ||q8 - x||^2 is an exact integer from
an int8 GEMM with int32 accumulation (torch._int_mm, VNNI where the CPU has it) and each image's
||x - 128||^2, computed once and kept beside the cache. The float query q = q8 + e is within
|e| of q8, so its distance to x lies between (|q8 - x| - |e|)^2 and (|q8 - x| + |e|)^2. Each
query keeps the images of smallest integer distance until the last one's lower bound exceeds the
k-th smallest upper bound (searching again with more where it does not): no image left out can
be among the float k nearest. Those whose lower bound is under it are narrowed again with e read
in int8 to 1/254 of a level (an int8 product over them alone), which leaves the float distance
known to within 2|r| |q8 - x|, r the remainder; the float64 ranking of the few left returns
exactly the float answer. Elsewhere (CUDA, MPS) the product is in float32 with a few extra candidates, as
float32 rounding can swap two nearly equal distances.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.defaults import NN_MEMORY_MB
from ..core.errors import DcganError, UsageError
from ..core.files import write_atomic
from ..core.pixels import flat_model_range, to_pixel_units
from ..core.progress import Progress

NORMS_NAME = "sqnorm-int8"


@dataclass(frozen=True)
class SearchTuning:
    """How the exact search trades memory against passes. The answer is the same for any values (tests pass
    small ones to reach the rare branches); the defaults are the fast ones (docs/measured.md, "nn-search in integers")."""

    float_extra: int = 16  # candidates kept beyond k for the exact float64 re-ranking (float path)
    int_extra: int = 1024  # candidates kept beyond k in integers, first try (more costs little; a second pass costs a pass)
    int_slice: int = 131072  # |a.b| <= 128 * 128 * 131072 = 2^31: longer rows are multiplied in slices summed in int64
    int_chunk_mb: int = 48  # int8 chunks small enough that the GEMM reads what the shift wrote while it is in cache


@dataclass
class Neighbours:
    indices: torch.Tensor  # (Q, k) int64, into the searched array
    distances: torch.Tensor  # (Q, k) float64, squared L2 in [-1, 1] pixel space


def chunk_rows(dim: int, memory_mb: float = NN_MEMORY_MB, bytes_per_value: int = 4) -> int:
    """Rows per chunk so that one chunk (float32, or int8 with bytes_per_value 1) fits the memory budget."""
    return max(1, int(memory_mb * 2**20 // (dim * bytes_per_value)))


def shifted_norms(data: np.ndarray, slab: int = 4096) -> np.ndarray:
    """||x - 128||^2 of each row of a uint8 array, int64, read a slab at a time."""
    out = np.empty(data.shape[0], dtype=np.int64)
    for i in range(0, data.shape[0], slab):
        x = np.asarray(data[i : i + slab]).reshape(min(slab, data.shape[0] - i), -1).astype(np.int32) - 128
        out[i : i + slab] = np.einsum("ij,ij->i", x, x, dtype=np.int64)
    return out


def cached_norms(images: np.ndarray, cache_dir: Path | None) -> np.ndarray:
    """shifted_norms of a prepared cache, computed once and kept beside it (keyed by the images
    file's size and time, so a rebuilt cache gets new ones); computed each time where it cannot be kept."""
    source = getattr(images, "filename", None)
    if cache_dir is None or source is None:
        return shifted_norms(images)
    st = Path(source).stat()
    path = Path(cache_dir) / f"{NORMS_NAME}-{st.st_size}-{st.st_mtime_ns}.npy"
    if path.is_file():
        try:
            found = np.load(path, mmap_mode="r")
            if found.shape == (images.shape[0],) and found.dtype == np.int64:
                return found
        except (OSError, ValueError):
            pass
    norms = shifted_norms(images)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, norms)

    try:
        write_atomic(path, write, what="image norms")
        for old in Path(cache_dir).glob(f"{NORMS_NAME}-*.npy"):
            if old != path:
                old.unlink(missing_ok=True)
    except (DcganError, OSError):  # a read-only cache: the search still works, norms computed each time
        pass
    return norms


def _int8_rows(raw: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """uint8 x -> int8 x - 128 in one pass (flipping the top bit is subtracting 128 in two's complement)."""
    torch.bitwise_xor(raw, 128, out=out[: raw.shape[0]])
    return out[: raw.shape[0]].view(torch.int8)


def _int_dot(b: torch.Tensor, a_t: torch.Tensor, piece: int) -> torch.Tensor:
    """(c, D) int8 @ (D, Q) int8 -> (c, Q) int64, exact (slices of `piece` values when int32 could overflow)."""
    if b.shape[1] <= piece:
        return torch._int_mm(b, a_t).long()
    total = torch.zeros(b.shape[0], a_t.shape[1], dtype=torch.long)
    for s in range(0, b.shape[1], piece):
        total += torch._int_mm(b[:, s : s + piece].contiguous(), a_t[s : s + piece].contiguous()).long()
    return total


def _integer_candidates(q: torch.Tensor, data: np.ndarray, k: int, chunk_size: int, norms: np.ndarray | None,
                        on_progress: Progress | None, tuning: SearchTuning) -> list[torch.Tensor]:
    """Per query, candidate indices that hold its exact float k nearest (see the module's doc)."""
    n, dim = int(data.shape[0]), q.shape[1]
    q_px = to_pixel_units(q.double().cpu())
    q8 = q_px.round().clamp_(0, 255)
    e = q_px - q8  # the rounding to uint8, |e_i| <= 0.5
    e8 = (e * 254).round()  # e itself in int8, to 1/254 of a level
    r = e - e8 / 254
    # float32 rounding of query and data in model range: the float answer's own, inside every bound
    fuzz = 2e-5 * dim**0.5
    a = (q8 - 128).to(torch.int8)
    aa = a.long().square().sum(1)
    rows = torch.arange(q.shape[0])
    keep, todo, found = min(n, k + tuning.int_extra), rows, {}
    while len(todo):
        d_int, idx = _scan(a[todo], aa[todo], data, keep, chunk_size, norms, on_progress, tuning.int_slice)
        # first bound, from |e| alone: |q - x| is within |e| of |q8 - x|
        root, slack = d_int.double().sqrt(), (e[todo].norm(dim=1) + fuzz)[:, None]
        lower, upper = (root - slack).clamp_min(0).square(), (root + slack).square()
        u_k = upper[:, k - 1]
        enough = (lower[:, -1] > u_k) | (keep == n)
        for j, (r_, ok) in enumerate(zip(todo.tolist(), enough.tolist())):
            if ok:
                near = lower[j] <= u_k[j]
                found[r_] = _refine(data, idx[j][near], d_int[j][near], e8[r_], e[r_], r[r_], q8[r_], fuzz, k, tuning.int_slice)
        todo = todo[~enough]
        keep = min(n, keep * 8)
    return [found[r_] for r_ in rows.tolist()]


def _refine(data: np.ndarray, idx: torch.Tensor, d_int: torch.Tensor, e8: torch.Tensor, e: torch.Tensor, r: torch.Tensor,
            q8: torch.Tensor, fuzz: float, k: int, piece: int) -> torch.Tensor:
    """One query's candidates narrowed by the second bound: with e read to 1/254 (an int8 product over
    the candidates alone) the float distance is known to within 2 |r| |q8 - x|."""
    b = _int8_rows(torch.from_numpy(np.asarray(data[idx.numpy()])).reshape(len(idx), -1),
                   torch.empty(len(idx), e8.shape[0], dtype=torch.uint8))
    e8x = _int_dot(b, e8.to(torch.int8)[:, None], piece).view(-1).double() + 128 * e8.sum()  # e8 . x, exact
    # |q - x|^2 = |q8 - x|^2 + 2 e.(q8 - x) + |e|^2, with e.x = e8.x / 254 + r.x and r.x = r.(x - q8) + r.q8
    d_hat = d_int.double() + 2 * (e @ q8) - (2 / 254) * e8x - 2 * (r @ q8) + e.square().sum()
    err = 2 * (r.norm() + fuzz) * d_int.double().sqrt() + 4 * fuzz * d_int.double().sqrt() + fuzz**2
    u_k = (d_hat + err).kthvalue(min(k, len(idx))).values
    return idx[d_hat - err <= u_k]


def _scan(a: torch.Tensor, aa: torch.Tensor, data: np.ndarray, keep: int, chunk_size: int, norms: np.ndarray | None,
          on_progress: Progress | None, piece: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over the data: per query, the `keep` smallest integer distances ||q8 - x||^2 and
    their indices, ascending (each (Q, keep))."""
    n, dim = int(data.shape[0]), a.shape[1]
    a_t = a.T  # a view: the GEMM reads it as fast as a copy
    buffer = torch.empty(min(chunk_size, n), dim, dtype=torch.uint8)
    best_d, best_i = torch.empty(a.shape[0], 0, dtype=torch.long), torch.empty(a.shape[0], 0, dtype=torch.long)
    for start in range(0, n, chunk_size):
        with warnings.catch_warnings():  # the map is read-only and is only ever read here
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            raw = torch.from_numpy(np.asarray(data[start : start + chunk_size])).reshape(-1, dim)
        b = _int8_rows(raw, buffer)
        if norms is not None:
            bb = torch.from_numpy(np.asarray(norms[start : start + b.shape[0]], dtype=np.int64))
        else:
            bb = b.to(torch.int32).square().sum(1, dtype=torch.long)
        d = aa[:, None] + bb[None] - 2 * _int_dot(b, a_t, piece).T  # (Q, c) exact integer squared distances
        pool_d = torch.cat([best_d, d], 1)
        pool_i = torch.cat([best_i, torch.arange(start, start + b.shape[0]).expand(len(aa), -1)], 1)
        order = torch.topk(pool_d, min(keep, pool_d.shape[1]), dim=1, largest=False, sorted=True).indices
        best_d, best_i = pool_d.gather(1, order), pool_i.gather(1, order)
        if on_progress is not None:
            on_progress(min(start + chunk_size, n), n)
    return best_d, best_i


def nearest(
    queries: torch.Tensor,
    data: np.ndarray,
    k: int,
    *,
    chunk_size: int | None = None,
    device: torch.device | str = "cpu",
    on_progress: Progress | None = None,
    norms: np.ndarray | None = None,
    integer: bool | None = None,
    tuning: SearchTuning = SearchTuning(),
) -> Neighbours:
    """The k nearest rows of `data` (N, ...) uint8 for each query (Q, ...) in [-1, 1].

    `norms`: each row's ||x - 128||^2 (shifted_norms), for the integer path; `integer` None: the
    integer path on the CPU, the float one elsewhere."""
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
    use_int = device.type == "cpu" if integer is None else integer
    if use_int:
        cand = _integer_candidates(q, data, k, chunk_size or chunk_rows(dim, tuning.int_chunk_mb, bytes_per_value=1), norms,
                                   on_progress, tuning)
        return _rerank(q, data, cand, k)
    cand = _float_candidates(q, data, k, chunk_size or chunk_rows(dim), device, on_progress, tuning.float_extra)
    return _rerank(q, data, cand, k)


def _float_candidates(q: torch.Tensor, data: np.ndarray, k: int, chunk_size: int, device: torch.device,
                      on_progress: Progress | None, extra: int) -> torch.Tensor:
    """(Q, k + a margin) candidate indices by float32 distances, chunk by chunk on `device`."""
    n, dim = int(data.shape[0]), q.shape[1]
    keep = min(n, k + extra)
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
            # u @ q.T, not q @ u.T: the CPU GEMM is faster with the long side first (docs/measured.md, "Figures behind code").
            d = qq - 2.0 * (u @ qd.T).T + uu[None]  # (Q, c), pixel units squared; only the order matters here
            idx = torch.arange(start, start + u.shape[0], device=device).expand_as(d)
            # Earlier chunks hold lower indices, so a stable sort of [best, chunk] breaks ties by index.
            all_d, all_i = torch.cat([best_d, d], 1), torch.cat([best_i, idx], 1)
            order = torch.sort(all_d, dim=1, stable=True).indices[:, :keep]
            best_d, best_i = all_d.gather(1, order), all_i.gather(1, order)
            if on_progress is not None:
                on_progress(min(start + chunk_size, n), n)

    return best_i.cpu()


def _rerank(q: torch.Tensor, data: np.ndarray, cand: torch.Tensor | list[torch.Tensor], k: int) -> Neighbours:
    """Exact re-ranking of each query's candidates (a row each, any length >= k) in float64, on the
    CPU, a query at a time (its candidates read once: memory stays that of one query's); ranked by
    (distance, index)."""
    qc = q.double().cpu()
    out_i, out_d = [], []
    for r, c in enumerate(cand):
        c = torch.sort(c.cpu()).values  # index order first, then a stable sort by distance
        xs = flat_model_range(data[c.numpy()])
        exact = ((xs - qc[r]) ** 2).sum(1)
        order = torch.sort(exact, stable=True).indices[:k]
        out_i.append(c[order])
        out_d.append(exact[order])
    return Neighbours(torch.stack(out_i), torch.stack(out_d))


def brute_force(queries: torch.Tensor, data: np.ndarray, k: int) -> Neighbours:
    """Reference: every distance in float64, ranked by (distance, index). For tests and checks."""
    x = flat_model_range(data)
    q = queries.reshape(queries.shape[0], -1).double()
    d = ((q[:, None, :] - x[None]) ** 2).sum(-1)
    order = torch.sort(d, dim=1, stable=True).indices[:, :k]
    return Neighbours(order, d.gather(1, order))
