"""The GPU check, in one command, for the day a card is lent (at most about 8 minutes on one card).

    python benchmarks/gpu_check.py --out gpu_check.json            # on the card
    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu.json   # every path it can take, tiny, on the CPU (CI)

Sections, each timed, each failure recorded without stopping the rest, and skipped (with the
reason) once the time budget runs low:
- speed: paper64 and celeba128 at batch 128 in fp32, bf16, bf16 + channels_last, + torch.compile,
  fp16 with its gradient scalers, and auto; images/s and the share of step time spent waiting for data;
- sampling: G's forward at batch 128 eager, and compiled with CUDA graphs (mode reduce-overhead);
- data parallel: every card of the machine through torchrun (nccl; gloo on the CPU), and --sync-bn;
- quality: the default-length shapes run in fp32 and in auto, domain FID of each;
- nn-search: 64 queries over 100,000 images of 3x64x64 on the card.
Prints one table and writes the JSON. Goal on an H100/H200-class card: paper64 at least 10,000
img/s with the best variant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_speed import run as speed_run  # noqa: E402

from dcgan_cli.core.device import select_device


class Check:
    def __init__(self, budget_s: float):
        self.t0, self.budget, self.rows = time.perf_counter(), budget_s, []

    def left(self) -> float:
        return self.budget - (time.perf_counter() - self.t0)

    def row(self, section: str, what: str, fn, *, needs: float = 0.0, skip: str | None = None) -> None:
        """Run fn() -> dict of figures; record it, an error, or why it was skipped."""
        if skip is None and self.left() < needs:
            skip = f"time budget: {self.left():.0f} s left, this needs about {needs:.0f} s"
        entry = {"section": section, "what": what}
        if skip is not None:
            entry["skipped"] = skip
        else:
            t = time.perf_counter()
            try:
                entry.update(fn())
            except Exception as e:  # one failure must not hide the other figures
                entry["error"] = f"{type(e).__name__}: {str(e)[-300:]}"
            entry["seconds"] = round(time.perf_counter() - t, 1)
        self.rows.append(entry)
        print(json.dumps(entry), flush=True)


def sampling(device: torch.device, preset: str, batch: int, compiled: bool, reps: int) -> dict:
    from dcgan_cli.core.model import PRESETS, Generator, ModelConfig

    G = Generator(ModelConfig(**PRESETS[preset])).to(device).eval()
    if compiled:
        G = torch.compile(G, mode="reduce-overhead")
    z = torch.randn(batch, G.cfg.nz if hasattr(G, "cfg") else 100, device=device)
    with torch.inference_mode():
        for _ in range(3):
            G(z)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(reps):
            G(z)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return {"img_per_s": round(batch * reps / (time.perf_counter() - t), 1)}


def ddp(preset: str, device: str, nproc: int, steps: int, batch: int, variant: str, sync_bn: bool) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    script = Path(__file__).with_name("train_speed.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", str(script), "--worker",
           "--preset", preset, "--device", device, "--steps", str(steps), "--batch-size", str(batch), "--variants", variant]
    if sync_bn:
        env["DCGAN_BENCH_SYNC_BN"] = "1"
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1500:])
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"processes": nproc, "img_per_s": round(out["img_per_s"], 1), "data_wait": round(out["data_wait"], 4)}


def quality(device: torch.device, precision: str, steps: int | None, n: int) -> dict:
    from dcgan_cli import evaluate, plan_run, train

    with tempfile.TemporaryDirectory() as d:
        settings = {"precision": precision, "seed": 1} | ({"max_steps": steps} if steps else {})
        result = train(plan_run(dataset="shapes", train=settings, out=Path(d) / "run"), device=device)
        ev = evaluate(Path(d) / "run", n=n, metrics=("fid",), device=device)
        from dcgan_cli.core.checkpoint import load_checkpoint

        chosen = load_checkpoint(Path(d) / "run").train_config
    return {"precision": chosen.precision, "channels_last": chosen.channels_last, "steps": result.step,
            "domain_fid": round(ev.metrics["fid"], 3), "domain_fid_floor": round(ev.metrics.get("fid_floor", 0.0), 3), "n": n}


def nn_search(device: torch.device, n: int) -> dict:
    from dcgan_cli.search.exact import nearest

    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (n, 3, 64, 64), dtype=np.uint8)
    q = torch.from_numpy(rng.uniform(-1, 1, (64, 3, 64, 64))).float()
    nearest(q[:2], data[: min(n, 1000)], 1, device=device)  # warm up
    t = time.perf_counter()
    nearest(q, data, 5, device=device)
    dt = time.perf_counter() - t
    return {"images": n, "queries_per_s": round(64 / dt, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    ap.add_argument("--budget-s", type=float, default=460.0, help="stop starting sections after this long")
    ap.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU: every path runs, no figure means anything")
    args = ap.parse_args()
    dry = args.dry_run
    device = torch.device("cpu") if dry else select_device(args.device)
    cuda = device.type == "cuda"
    card = torch.cuda.get_device_name(device) if cuda else f"CPU, {os.cpu_count()} cores"
    check = Check(args.budget_s)
    print(f"gpu_check on {device} ({card}), torch {torch.__version__}{', dry run' if dry else ''}", flush=True)
    presets = ["shapes32"] if dry else ["paper64", "celeba128"]
    batch, steps = (8, 4) if dry else (128, 60)
    compiler = shutil.which(os.environ.get("CXX", "g++")) is not None or cuda
    for preset in presets:
        for variant in ("fp32", "bf16", "bf16+cl", "bf16+cl+compile", "fp16", "auto"):
            skip = None
            if variant == "fp16" and not cuda:
                skip = "fp16 needs CUDA (gradient scaling)"
            elif "compile" in variant and not compiler:
                skip = "torch.compile on the CPU needs a C++ compiler"
            check.row("speed", f"{preset} {variant} batch {batch}",
                      lambda p=preset, v=variant: dict(zip(("img_per_s", "data_wait"),
                                                           map(lambda x: round(x, 4), speed_run(p, device, steps, batch, v)))),
                      needs=5 if dry else 40, skip=skip)
    for compiled in (False, True):
        skip = None if cuda or (dry and not compiled) else "CUDA graphs need CUDA"
        check.row("sampling", f"{presets[0]} G forward batch {batch}{', compiled (CUDA graphs)' if compiled else ', eager'}",
                  lambda c=compiled: sampling(device, presets[0], batch, c, 5 if dry else 50), needs=5 if dry else 60, skip=skip)
    cards = torch.cuda.device_count() if cuda else 0
    nproc = 2 if dry else cards
    skip = None if nproc >= 2 else f"{cards} card(s): data parallel needs two"
    check.row("data parallel", f"{presets[0]} fp32, {nproc} processes", needs=20 if dry else 90, skip=skip,
              fn=lambda: ddp(presets[0], "cpu" if dry else "cuda", nproc, steps, batch, "fp32", False))
    check.row("data parallel", f"{presets[0]} fp32, --sync-bn, {max(nproc, 1)} process(es)", needs=90,
              skip=None if cuda else "--sync-bn needs CUDA (nccl)",
              fn=lambda: ddp(presets[0], "cuda", max(nproc, 1), steps, batch, "fp32", True))
    for precision in ("fp32", "auto"):
        check.row("quality", f"shapes, default length, {precision}", needs=30 if dry else 150,
                  fn=lambda p=precision: quality(device, p, 20 if dry else None, 256 if dry else 10_000))
    check.row("nn-search", "64 queries", needs=10 if dry else 60, fn=lambda: nn_search(device, 2000 if dry else 100_000))
    report = {"device": str(device), "card": card, "torch": torch.__version__, "dry_run": dry, "rows": check.rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print("\n| section | what | figures | seconds |\n|---|---|---|---|")
    for r in check.rows:
        figures = r.get("skipped") and f"skipped: {r['skipped']}" or r.get("error") and f"ERROR {r['error'][:120]}" or ", ".join(
            f"{k} {v}" for k, v in r.items() if k not in ("section", "what", "seconds"))
        print(f"| {r['section']} | {r['what']} | {figures} | {r.get('seconds', '-')} |")
    print(f"wrote {args.out}")
    if any("error" in r for r in check.rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
