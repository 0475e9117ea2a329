"""Data loading: the uint8 cache versus decoding image files every epoch.

    python benchmarks/data_speed.py [--n 4096] [--size 64] [--batch-size 128]

Writes n JPEGs (178x218, CelebA's shape) to a temp folder, then times one epoch of batches
(a) from the prepared cache, exactly as dcgan train reads it (sorted gather from the memory
map, uint8 to [-1, 1]), and (b) through torchvision ImageFolder + PIL Resize/CenterCrop/
ToTensor/Normalize in a DataLoader, as pytorch/examples dcgan does. It also times one training
step of the model at that size, to give the cache's share of a step.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from dcgan_cli.core.configs import TrainConfig
from dcgan_cli.core.model import Discriminator, Generator, ModelConfig, sample_z
from dcgan_cli.core.pixels import to_model_range
from dcgan_cli.data.cache import load_data
from dcgan_cli.training.loop import train_step
from dcgan_cli.training.steps import make_optimizers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "faces"
        (root / "all").mkdir(parents=True)
        base = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
        for i in range(args.n):
            Image.fromarray(np.roll(base, i, axis=1)).save(root / "all" / f"{i:06d}.jpg", quality=90)

        t = time.perf_counter()
        data = load_data("folder", args.size, root=root, cache_root=Path(d) / "cache", workers=args.workers)
        prep = time.perf_counter() - t
        n = data.images.shape[0]
        order = torch.randperm(n).numpy()
        t = time.perf_counter()
        for i in range(0, n - args.batch_size + 1, args.batch_size):
            x = to_model_range(torch.from_numpy(np.array(data.images[np.sort(order[i : i + args.batch_size])])))
        cache_ips = (n // args.batch_size * args.batch_size) / (time.perf_counter() - t)

        from torchvision import datasets, transforms

        tf = transforms.Compose([transforms.Resize(args.size), transforms.CenterCrop(args.size), transforms.ToTensor(),
                                 transforms.Normalize((0.5,) * 3, (0.5,) * 3)])
        loader = torch.utils.data.DataLoader(datasets.ImageFolder(str(root), transform=tf), batch_size=args.batch_size,
                                             shuffle=True, num_workers=args.workers, drop_last=True)
        t = time.perf_counter()
        seen = 0
        for x, _ in loader:
            seen += x.shape[0]
        folder_ips = seen / (time.perf_counter() - t)

        cfg = ModelConfig(size=args.size)
        G, D = Generator(cfg), Discriminator(cfg)
        og, od = make_optimizers(G, D, TrainConfig())
        real = x[: args.batch_size]
        train_step(G, D, og, od, real, [sample_z(cfg, args.batch_size)])
        t = time.perf_counter()
        for _ in range(3):
            train_step(G, D, og, od, real, [sample_z(cfg, args.batch_size)])
        step_s = (time.perf_counter() - t) / 3
    batch_cache = args.batch_size / cache_ips
    batch_folder = args.batch_size / folder_ips
    print(f"{n} images {args.size}px, batch {args.batch_size}, {args.workers} workers, {torch.get_num_threads()} threads")
    print(f"prepare (decode once, parallel): {prep:.1f} s")
    print(f"cache:                {cache_ips:10.0f} img/s  ({batch_cache * 1000:.2f} ms per batch)")
    print(f"ImageFolder + PIL:    {folder_ips:10.0f} img/s  ({batch_folder * 1000:.2f} ms per batch)")
    print(f"one training step (paper model, CPU): {step_s * 1000:.0f} ms")
    print(
        f"data share of a step: cache {batch_cache / (batch_cache + step_s):.2%},"
        f" ImageFolder {batch_folder / (batch_folder + step_s):.2%} (if not overlapped)"
    )


if __name__ == "__main__":
    main()
