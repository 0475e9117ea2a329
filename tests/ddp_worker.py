"""A data-parallel training run for test_distributed.py, started by torchrun (gloo, CPU).

Trains a tiny model with the library's `fit` on seeded random images and writes, per rank, a
digest of the weights it ended with, so the test can see that every rank holds the same model.
`--poison-rank R --poison-step S` makes rank R's loss NaN from step S on.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import ModelConfig, TrainConfig
from dcgan_cli.core.errors import DcganError
from dcgan_cli.training import distributed, loop

p = argparse.ArgumentParser()
p.add_argument("--out", type=Path, required=True)
p.add_argument("--steps", type=int, required=True)
p.add_argument("--resume", action="store_true")
p.add_argument("--report", type=Path, required=True)
p.add_argument("--poison-rank", type=int, default=-1)
p.add_argument("--poison-step", type=int, default=0)
args = p.parse_args()

torch.set_num_threads(1)
world, device = distributed.start(torch.device("cpu"))
model = ModelConfig(size=32, nc=3, ngf=8, ndf=8)
cfg = TrainConfig(max_steps=args.steps, batch_size=8, seed=3, log_every=2, keep=10, snap_kimg=0.08)  # a snapshot each epoch
images = np.random.default_rng(0).integers(0, 256, size=(80, 3, 32, 32), dtype=np.uint8)  # 5 global batches an epoch

seen = {"G": None, "D": None, "steps": 0}
real_step = loop.train_step


def spy(G, D, *a, **k):
    seen["G"], seen["D"] = G, D
    out = real_step(G, D, *a, **k)
    seen["steps"] += 1
    if world.rank == args.poison_rank and seen["steps"] >= args.poison_step:
        out["loss_d"] = out["loss_d"] * float("nan")
    return out


loop.train_step = spy
code = 0
try:
    resume = load_checkpoint(args.out) if args.resume else None
    loop.fit(model, cfg, images, args.out, device=device, resume=resume, world=world)
except DcganError as e:
    print(f"rank {world.rank}: error: {e}", file=sys.stderr)
    code = 1
finally:
    digest = hashlib.sha256()
    for net in ("G", "D"):
        if seen[net] is not None:
            for t in seen[net].parameters():
                digest.update(t.detach().numpy().tobytes())
    args.report.mkdir(parents=True, exist_ok=True)
    (args.report / f"rank{world.rank}.json").write_text(json.dumps({"digest": digest.hexdigest(), "code": code}))
    distributed.stop()
sys.exit(code)
