"""How good are the generators a recipe trains? Train it on several seeds, measure each, report
mean and spread. Quality claims in docs/measured.md come from this script, never from one lucky run.

    python benchmarks/quality.py --recipe "paper+ema" --seeds 1,2,3          # MNIST (../shared) at 64 px
    python benchmarks/quality.py --recipe paper --recipe "paper+ema" --dataset shapes --size 32 --steps 640

A recipe is a name from RECIPES. Each (recipe, seed) run trains with the library's own
plan_run/train (what `dcgan train` calls) and is measured with evaluate (what `dcgan evaluate`
calls): domain features, N generated vs N real training images. Runs whose checkpoint exists
are measured again without retraining. A run counts as collapsed when its last fixed-seed grid's
diversity (logged in metrics.jsonl, 1 = as varied as real images) is below 0.2, the threshold
of the training warning. (Domain-feature recall is not a collapse test on undertrained models:
blurry but varied samples all fall outside the real images' tight k-NN balls.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.evaluation.evaluate import evaluate
from dcgan_cli.training import plan_run, train

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist10k"

# name -> (model flags, train flags)
RECIPES: dict[str, tuple[dict, dict]] = {
    "paper": ({}, {}),
    "paper+ema": ({}, {"ema": True}),
    "d-lr 1e-4": ({}, {"d_lr": 1e-4}),
    "label smoothing 0.1": ({}, {"label_smoothing": 0.1}),
    "instance noise 0.1": ({}, {"instance_noise": 0.1}),
    "spectral norm": ({"spectral_norm": True}, {}),
    # --precision auto against fp32 (auto is bf16 + channels_last on a CPU with avx512_bf16 or AMX, fp32 elsewhere)
    "precision fp32": ({}, {"precision": "fp32"}),
    "precision auto": ({}, {"precision": "auto"}),
}


def run_one(recipe: str, seed: int, args) -> dict[str, dict[str, float]]:
    model, train_flags = RECIPES[recipe]
    out = Path(args.out) / f"{args.dataset}{args.size}-{recipe.replace(' ', '_')}-seed{seed}"
    started = (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("*.safetensors"))
    if not started or load_checkpoint(out).step < args.steps:
        t0 = time.perf_counter()
        if started:  # an interrupted benchmark: continue the run exactly
            plan = plan_run(resume=out, data_root=args.data_root, train={"max_steps": args.steps})
        else:
            plan = plan_run(dataset=args.dataset, preset=args.preset, recipe="paper", data_root=args.data_root, out=out,
                            model={"size": args.size, **model},
                            train={"max_steps": args.steps, "batch_size": args.batch_size, "seed": seed, **train_flags})
        train(plan, device=args.device)
        print(f"  trained {out.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    c = load_checkpoint(out)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    div = [x["diversity"] for x in lines if "diversity" in x]
    results = {}
    for which in (["G", "EMA"] if c.has_ema else ["G"]):
        r = evaluate(c, n=args.n, features="domain", ema=(which == "EMA"), device=args.device, data_root=args.data_root)
        results[which] = r.metrics | {"diversity": div[-1] if div else float("nan")}
        print(f"  {out.name} {which}: " + ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items()), flush=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", action="append", choices=list(RECIPES))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--preset", default="paper64")
    ap.add_argument("--steps", type=int, default=282)  # two epochs of ../shared's 9,000 digits at batch 64
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="runs/quality")
    args = ap.parse_args()
    if args.dataset == "mnist" and args.data_root is None:
        args.data_root = SHARED_MNIST
    if args.preset == "none":
        args.preset = None
    seeds = [int(s) for s in args.seeds.split(",")]
    table: dict[tuple[str, str], list[dict[str, float]]] = {}
    for recipe in args.recipe or ["paper+ema"]:
        for seed in seeds:
            for which, m in run_one(recipe, seed, args).items():
                table.setdefault((recipe, which), []).append(m)
    print(f"\n{args.dataset} {args.size}px, {args.steps} steps of batch {args.batch_size}, seeds {args.seeds}, "
          f"domain features, {args.n} generated vs {args.n} real (train): mean ± std over seeds")
    keys = ("fid", "kid", "precision", "recall", "diversity")
    print("| recipe | " + " | ".join(keys) + " | collapsed |")
    print("|---" * (len(keys) + 2) + "|")
    for (recipe, which), ms in table.items():
        cells = []
        for key in keys:
            vals = [m[key] for m in ms]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.mean(vals):.3g} ± {sd:.2g}")
        collapsed = sum(m["diversity"] < 0.2 for m in ms)
        print(f"| {recipe} {which} | " + " | ".join(cells) + f" | {collapsed}/{len(ms)} |")


if __name__ == "__main__":
    main()
