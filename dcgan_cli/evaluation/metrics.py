"""The sample-quality metrics, as pure functions of two feature sets (N, D).

- FID (Heusel et al. 2017): the Fréchet distance between Gaussians fitted to the two sets.
- KID (Binkowski et al. 2018): the unbiased MMD^2 under the cubic polynomial kernel
  k(x, y) = (x.y / D + 1)^3, averaged over random subsets; unbiased, so it is near 0 for two
  samples of one distribution even at small N, where FID is biased upwards.
- Precision and recall (Kynkaanniemi et al. 2019, k = 3): the share of generated samples inside
  the real manifold (k-NN balls around real features), and of real samples inside the generated
  manifold. Recall is what falls when a generator collapses onto a few modes.

Everything is computed in float64 on the CPU, in chunks, so results do not depend on the batch
size the features were extracted with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Stats:
    """A feature set's mean (D,) and covariance (D, D), float64."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int

    @classmethod
    def of(cls, feats: np.ndarray) -> Stats:
        f = np.asarray(feats, dtype=np.float64)
        if f.shape[0] < 2:
            raise ValueError("FID needs at least two images on each side")
        return cls(f.mean(0), np.cov(f, rowvar=False), int(f.shape[0]))


def fid(a: Stats, b: Stats) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    tr((S_a S_b)^(1/2)) = sum of sqrt(eigenvalues of S_a^(1/2) S_b S_a^(1/2)), a symmetric PSD
    matrix, so two symmetric eigendecompositions replace a general matrix square root.
    """
    w, v = np.linalg.eigh(a.sigma)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root_a @ b.sigma @ root_a
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = a.mu - b.mu
    value = float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * tr_sqrt)
    return max(value, 0.0)


def kid(real: np.ndarray, fake: np.ndarray, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation over subsets of the unbiased MMD^2 (cubic polynomial kernel)."""
    x = torch.from_numpy(np.asarray(real, dtype=np.float64))
    y = torch.from_numpy(np.asarray(fake, dtype=np.float64))
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError("KID needs at least two images on each side")
    d = x.shape[1]
    g = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        xs = x[torch.randperm(x.shape[0], generator=g)[:m]]
        ys = y[torch.randperm(y.shape[0], generator=g)[:m]]
        kxx = (xs @ xs.T / d + 1) ** 3
        kyy = (ys @ ys.T / d + 1) ** 3
        kxy = (xs @ ys.T / d + 1) ** 3
        # Unbiased: the diagonals (a sample with itself) are left out of the within-set means.
        mmd = (
            (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
            - 2 * kxy.mean()
        )
        values.append(float(mmd))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


def _pairwise_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ((a * a).sum(1)[:, None] - 2 * a @ b.T + (b * b).sum(1)[None]).clamp_min_(0)


def _kth_radius(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance of each row to its k-th nearest other row."""
    out = []
    for i in range(0, x.shape[0], chunk):
        d = _pairwise_sq(x[i : i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the row itself sits at distance 0
    return torch.cat(out)


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> float:
    """Share of points inside at least one ball (centre, squared radius)."""
    inside = 0
    for i in range(0, points.shape[0], chunk):
        d = _pairwise_sq(points[i : i + chunk], centres)
        inside += int((d <= radii[None]).any(1).sum())
    return inside / points.shape[0]


def precision_recall(real: np.ndarray, fake: np.ndarray, *, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """(precision, recall) of the generated set against the real one, k-NN manifolds."""
    x = torch.from_numpy(np.asarray(real, dtype=np.float64))
    y = torch.from_numpy(np.asarray(fake, dtype=np.float64))
    if min(x.shape[0], y.shape[0]) <= k:
        raise ValueError(f"precision and recall need more than k = {k} images on each side")
    precision = _coverage(y, x, _kth_radius(x, k, chunk), chunk)
    recall = _coverage(x, y, _kth_radius(y, k, chunk), chunk)
    return precision, recall
