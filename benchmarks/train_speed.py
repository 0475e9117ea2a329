"""Training speed: images/s and the share of step time spent waiting for data.

    python benchmarks/train_speed.py --preset paper64 --device cpu --steps 30

Runs dcgan_cli.training.fit on the built-in shapes at the preset's size (through the same
uint8 batching the CLI uses), once with the default memory layout and once channels_last,
and prints both. Steps after the first few are timed, from metrics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from dcgan_cli.configs import TrainConfig
from dcgan_cli.data.shapes import make_shapes
from dcgan_cli.device import select_device
from dcgan_cli.model import PRESETS, ModelConfig
from dcgan_cli.training import fit as train


def run(preset: str, device: torch.device, steps: int, batch: int, channels_last: bool) -> tuple[float, float]:
    mcfg = ModelConfig(**PRESETS[preset])
    images, _ = make_shapes(batch * 4, mcfg.size, seed=0)
    if mcfg.nc == 1:
        images = images[:, :1].copy()
    cfg = TrainConfig(epochs=10_000, max_steps=steps, batch_size=batch, log_every=max(1, steps // 3), channels_last=channels_last)
    with tempfile.TemporaryDirectory() as d:
        train(mcfg, cfg, images, Path(d), device=device)
        rows = [json.loads(line) for line in (Path(d) / "metrics.jsonl").read_text().splitlines()]
    timed = rows[1:] or rows  # the first window includes warm-up
    return sum(r["img_per_s"] for r in timed) / len(timed), max(r["data_wait"] for r in timed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper64", choices=sorted(PRESETS))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    device = select_device(args.device)
    print(f"preset {args.preset}, batch {args.batch_size}, device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for cl in (False, True):
        t = time.perf_counter()
        ips, wait = run(args.preset, device, args.steps, args.batch_size, cl)
        layout = "channels_last " if cl else "contiguous    "
        print(f"{layout}: {ips:8.1f} img/s   data wait {wait:.2%} of step time   ({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
