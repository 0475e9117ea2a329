"""nn-search speed and memory: 64 queries over a CelebA-shaped set and over real MNIST.

    python benchmarks/nn_speed.py [--n 100000,200000] [--device cpu] [--chunk-size N]

Prints queries/s and peak resident memory for dcgan_cli.search.exact.nearest, its integer path
(int8 GEMM, the CPU default; the images' norms computed beforehand, as the cache keeps them) and
its float path, and, when faiss-cpu is installed (pip install 'dcgan-cli[bench-faiss]'), for faiss
IndexFlatL2 on the same data (search only; its float32 copy of the data is timed apart), with the
share of the same neighbours. Each search runs three times; the fastest is reported.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dcgan_cli.core.pixels import flat_model_range as to_unit
from dcgan_cli.search.exact import nearest, shifted_norms

ROOT = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, folder: Path) -> np.memmap:
    """A CelebA-shaped uint8 memmap (n, 3, 64, 64), written in slabs so it never sits in RAM whole."""
    mm = np.memmap(folder / "synthetic.u8", dtype=np.uint8, mode="w+", shape=(n, 3, 64, 64))
    rng = np.random.default_rng(0)
    for i in range(0, n, 10_000):
        mm[i : i + 10_000] = rng.integers(0, 256, (min(10_000, n - i), 3, 64, 64), dtype=np.uint8)
    mm.flush()
    return np.memmap(folder / "synthetic.u8", dtype=np.uint8, mode="r", shape=(n, 3, 64, 64))


def mnist() -> np.ndarray | None:
    raw = ROOT.parent / "shared" / "data" / "mnist10k" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    if not raw.exists():
        return None
    return np.fromfile(raw, dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)


def bench(name: str, data: np.ndarray, device: str, chunk: int | None, k: int = 5) -> None:
    rng = np.random.default_rng(1)
    q = torch.from_numpy(rng.uniform(-1, 1, (64, *data.shape[1:]))).float()
    norms = shifted_norms(data)
    found = {}
    for label, integer in (("integer", True), ("float", False)):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            found[label] = nearest(q, data, k, chunk_size=chunk, device=device, integer=integer,
                                   norms=norms if integer else None)
            times.append(time.perf_counter() - t)
        dt = min(times)
        found[label + " s"] = dt
        print(f"{name}: dcgan nearest, {label:7s} {64 / dt:8.1f} queries/s  ({dt:.2f} s for 64 queries over "
              f"{data.shape[0]:,} images, peak RSS {peak_mb():.0f} MB)", flush=True)
    same = float((found["integer"].indices == found["float"].indices).float().mean())
    print(f"{name}: integer vs float path: same neighbours {same:.1%}; integer is {found['float s'] / found['integer s']:.2f}x")
    try:
        import faiss
    except ImportError:
        print(f"{name}: faiss not installed; pip install 'dcgan-cli[bench-faiss]' to compare")
        return
    # faiss needs the whole set as float32 in RAM: that copy is part of its cost, timed apart.
    t = time.perf_counter()
    index = faiss.IndexFlatL2(int(np.prod(data.shape[1:])))
    for i in range(0, data.shape[0], 20_000):
        index.add(to_unit(data[i : i + 20_000]).float().numpy())
    t_add = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        _, idx = index.search(q.reshape(64, -1).numpy(), k)
        times.append(time.perf_counter() - t)
    dt_f = min(times)
    same = np.mean(idx == found["integer"].indices.numpy())
    print(
        f"{name}: faiss IndexFlatL2 {64 / dt_f:8.1f} queries/s  (search {dt_f:.2f} s + add {t_add:.2f} s,"
        f" peak RSS {peak_mb():.0f} MB); same neighbours as the integer path: {same:.1%}; "
        f"integer path {dt_f / found['integer s']:.2f}x faiss's search"
    )
    del index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", default="100000,200000", help="comma-separated data set sizes")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--chunk-size", type=int, default=None)
    args = ap.parse_args()
    flags = " ".join(sorted({f for line in open("/proc/cpuinfo") if line.startswith("flags") for f in line.split()
                             if f.startswith("avx") or f.startswith("amx")})) if Path("/proc/cpuinfo").exists() else "?"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; CPU flags: {flags}")
    m = mnist()
    if m is not None:
        bench("mnist10k (9,000 x 1x28x28)", m, args.device, args.chunk_size)
    for n in (int(x) for x in args.n.split(",")):
        with tempfile.TemporaryDirectory() as d:
            bench(f"celeba-shaped ({n:,} x 3x64x64)", synthetic(n, Path(d)), args.device, args.chunk_size)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
