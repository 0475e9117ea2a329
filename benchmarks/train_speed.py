"""Training speed: images/s and the share of step time spent waiting for data.

    python benchmarks/train_speed.py --preset paper64 --device cpu --steps 12
    python benchmarks/train_speed.py --preset paper64 --device cpu --steps 12 --variants fp32,bf16
    python benchmarks/train_speed.py --preset paper64 --device cpu --steps 12 --variants fp32,auto --rounds 3
    python benchmarks/train_speed.py --preset shapes32 --device cpu --steps 60 --nproc 1,2
    python benchmarks/train_speed.py --preset cifar32 --device cpu --batch-size 32 --steps 40 --variants fp32,fp32+sn --rounds 3
    python benchmarks/train_speed.py --preset paper64 --device cuda --batch-size 128 --steps 200 \
        --variants fp32,bf16,bf16+cl+compile

Runs dcgan_cli.training.fit on the built-in shapes at the preset's size (through the same
uint8 batching the CLI uses) for each variant: a precision (auto, fp32, bf16, fp16), optionally
`+cl` (channels_last) and `+compile` (torch.compile). With --nproc N > 1 the run is data
parallel through torchrun (gloo on CPU, nccl on CUDA), batch --batch-size per process, and
images/s counts all processes. Steps after the first log window are timed, from metrics.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from dcgan_cli.core.configs import TrainConfig
from dcgan_cli.core.device import select_device
from dcgan_cli.core.model import PRESETS, ModelConfig
from dcgan_cli.data.shapes import make_shapes
from dcgan_cli.training import distributed, fit


def settings(variant: str) -> dict:
    """'bf16+cl+compile' -> TrainConfig fields; 'auto' is --precision auto with its own layout choice."""
    parts = variant.split("+")
    out = {"precision": parts[0], "channels_last": "cl" in parts[1:], "compile": "compile" in parts[1:]}
    if parts[0] == "auto" and "cl" not in parts[1:]:
        out["channels_last"] = None
    unknown = set(parts[1:]) - {"cl", "compile", "sn"}
    if parts[0] not in ("auto", "fp32", "bf16", "fp16") or unknown:
        raise SystemExit(f"variant {variant!r}: use auto|fp32|bf16|fp16, then +cl, +compile and/or +sn")
    return out


def run(preset: str, device: torch.device, steps: int, batch: int, variant: str, world=None) -> tuple[float, float]:
    # +sn: spectral norm in D instead of its batch norm (the model's --spectral-norm), to price it per image
    mcfg = ModelConfig(**PRESETS[preset], spectral_norm="sn" in variant.split("+")[1:])
    world = world or distributed.World()
    images, _ = make_shapes(batch * 4 * world.size, mcfg.size, seed=0)
    if mcfg.nc == 1:
        images = images[:, :1].copy()
    sync_bn = os.environ.get("DCGAN_BENCH_SYNC_BN") == "1"  # benchmarks/gpu_check.py's --sync-bn row
    cfg = TrainConfig(epochs=10_000, max_steps=steps, batch_size=batch, log_every=max(1, steps // 4), sync_bn=sync_bn,
                      **settings(variant))
    with tempfile.TemporaryDirectory() as d:
        folder = Path(world.broadcast(d))  # every rank's run folder is rank 0's
        fit(mcfg, cfg, images, folder, device=device, world=world)
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()] if world.main else []
        world.barrier()
    rows = [r for r in rows if "img_per_s" in r]
    timed = rows[1:] or rows  # the first window includes warm-up (and compilation)
    if not timed:
        return 0.0, 0.0
    return sum(r["img_per_s"] for r in timed) / len(timed), max(r["data_wait"] for r in timed)


def worker(args) -> None:
    """One rank of a --nproc run (under torchrun): rank 0 prints the figures as JSON."""
    world, device = distributed.start(select_device(args.device))
    try:
        ips, wait = run(args.preset, device, args.steps, args.batch_size, args.variants, world)
        if world.main:
            print(json.dumps({"img_per_s": ips, "data_wait": wait}))
    finally:
        distributed.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="paper64", choices=sorted(PRESETS))
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=64, help="per process")
    ap.add_argument("--variants", default="fp32,fp32+cl", help="comma-separated: fp32|bf16|fp16 [+cl] [+compile] [+sn]")
    ap.add_argument("--nproc", default="1", help="comma-separated process counts, e.g. 1,2")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the variants this many times, alternating (fp32, auto, fp32, auto, ...), and report "
                         "each variant's median: a machine's drift then falls on every variant alike")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    device = select_device(args.device)
    card = torch.cuda.get_device_name(device) if device.type == "cuda" else os.uname().machine
    print(f"preset {args.preset}, batch {args.batch_size} per process, device {device} ({card}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} cores")
    import statistics

    from dcgan_cli.training.precision import resolve_precision

    for variant in args.variants.split(","):
        settings(variant)
        if variant.startswith("auto"):
            chosen = resolve_precision(TrainConfig(**settings(variant)), device)
            print(f"auto on this machine: {chosen.precision_auto}")
    for n in (int(x) for x in args.nproc.split(",")):
        figures: dict[str, list[tuple[float, float]]] = {}
        for r in range(args.rounds):
            for variant in args.variants.split(","):
                t = time.perf_counter()
                if n == 1:
                    ips, wait = run(args.preset, device, args.steps, args.batch_size, variant)
                else:
                    # Each process gets an equal share of the cores, as torchrun's default of 1 thread would starve a CPU run.
                    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // n))}
                    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                                           f"--nproc-per-node={n}", __file__, "--worker", "--preset", args.preset, "--device",
                                           args.device, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                                           "--variants", variant], capture_output=True, text=True, env=env)
                    if done.returncode != 0:
                        raise SystemExit(done.stderr[-2000:])
                    out = json.loads(done.stdout.strip().splitlines()[-1])
                    ips, wait = out["img_per_s"], out["data_wait"]
                figures.setdefault(variant, []).append((ips, wait))
                print(f"  round {r + 1}: {n} proc {variant:18s}: {ips:8.1f} img/s   data wait {wait:.2%}   "
                      f"({time.perf_counter() - t:.0f} s)", flush=True)
        base = None
        for variant, runs in figures.items():
            ips = statistics.median(x for x, _ in runs)
            spread = f" (runs {min(x for x, _ in runs):.1f}-{max(x for x, _ in runs):.1f})" if len(runs) > 1 else ""
            base = base or ips
            print(f"{n} proc {variant:18s}: {ips:8.1f} img/s median of {len(runs)}{spread} ({ips / base:4.2f}x the first)   "
                  f"data wait {max(w for _, w in runs):.2%} of step time")

if __name__ == "__main__":
    main()
