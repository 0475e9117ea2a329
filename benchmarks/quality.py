"""How good are the generators a recipe trains, at equal cost? Train each variant on several seeds,
measure each run, report mean and spread. Quality claims in docs/measured.md come from this script.

    python benchmarks/quality.py --dataset shapes --size 32 --seconds 30 --variant paper --variant default
    python benchmarks/quality.py --variant "paper" --variant "recipe=paper;precision=fp32" --steps 282   # MNIST 64 px
    python benchmarks/quality.py --dataset shapes --size 32 --seconds 30 --variant "loss=hinge;ema=true;ema_kimg=5"

A variant is a name from VARIANTS or `key=value;key=value`, keys being ModelConfig / TrainConfig
fields or `recipe` and `preset` (a variant with neither trains on the paper recipe and the
benchmark's --preset). Equal cost: with --seconds each variant first runs a short timed probe
(variants alternated, --rounds rounds, the median kept), and then trains for as many steps as
that budget buys at its own speed, so a slower variant trains fewer steps. With --steps every
variant trains that many. Seeds run in the outer loop, variants alternated inside it.

Each run trains with the library's plan_run/train (what `dcgan train` calls) and is measured with
evaluate (`dcgan evaluate`): domain features, N generated vs N real training images; and with
the data set's classifier: the share of N samples it reads with p >= 0.9 in every attribute.
A run counts as collapsed when its last fixed-seed grid's diversity (1 = as varied as real
images) is below 0.4, the training warning's threshold. Runs whose checkpoint exists are
measured again without retraining. The CPU flags and torch version are printed with the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import statistics
import time
from pathlib import Path

import torch

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import ModelConfig, TrainConfig
from dcgan_cli.core.generation import uint8_from_seeds
from dcgan_cli.data import checkpoint_data
from dcgan_cli.evaluation.confident import confident_share
from dcgan_cli.evaluation.evaluate import evaluate
from dcgan_cli.training import plan_run, train
from dcgan_cli.training.precision import cpu_flags
from dcgan_cli.training.watch import COLLAPSE_BELOW

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist10k"
MODEL_KEYS = {f.name for f in dataclasses.fields(ModelConfig)}
TRAIN_KEYS = {f.name for f in dataclasses.fields(TrainConfig)}

# Named variants: the stabilisers measured alone on the paper recipe, and the recipes.
VARIANTS: dict[str, str] = {
    "paper": "recipe=paper",
    "default": "",
    "paper+ema": "recipe=paper;ema=true",
    "d-lr 1e-4": "recipe=paper;d_lr=1e-4",
    "label smoothing 0.1": "recipe=paper;label_smoothing=0.1",
    "instance noise 0.1": "recipe=paper;instance_noise=0.1",
    "spectral norm": "recipe=paper;spectral_norm=true",
    "precision fp32": "recipe=paper;precision=fp32",
    "precision auto": "recipe=paper;precision=auto",
}


def parse_variant(text: str) -> dict:
    """'key=value;...' -> {"recipe": .., "preset": .., "model": {..}, "train": {..}}; values as JSON where they parse."""
    spec = VARIANTS.get(text, text)
    out: dict = {"recipe": None, "preset": "bench", "model": {}, "train": {}}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        key, _, raw = part.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        if key in ("recipe", "preset"):
            out[key] = value
        elif key in MODEL_KEYS:
            out["model"][key] = value
        elif key in TRAIN_KEYS:
            out["train"][key] = value
        else:
            raise SystemExit(f"variant {text!r}: {key!r} is not a setting")
    if text == "default":
        out["preset"] = None  # the data set's own preset and recipe, as `dcgan train` chooses them
    elif out["recipe"] is None and "preset" not in spec:
        out["recipe"] = "paper"
    return out


def plan_for(v: dict, seed: int, steps: int, out: Path, args) -> object:
    preset = args.preset if v["preset"] == "bench" else v["preset"]
    train_flags = {"max_steps": steps, "seed": seed, **v["train"]}
    if args.batch_size is not None:
        train_flags.setdefault("batch_size", args.batch_size)
    return plan_run(dataset=args.dataset, preset=preset, recipe=v["recipe"], data_root=args.data_root, out=out,
                    model={"size": args.size, **v["model"]}, train=train_flags)


def seconds_per_step(name: str, v: dict, args) -> float:
    """A short timed run of the variant (its first steps skipped as warm-up)."""
    out = Path(args.out) / "probe" / slug(name)
    shutil.rmtree(out, ignore_errors=True)
    marks: list[float] = []
    train(plan_for(v, 0, args.probe_steps, out, args), device=args.device,
          on_step=lambda info: marks.append(time.perf_counter()))
    skip = min(5, len(marks) // 3)
    shutil.rmtree(out, ignore_errors=True)
    return (marks[-1] - marks[skip]) / (len(marks) - 1 - skip)


def avx_flags() -> str:
    """The CPU's avx flags, as the docs record them beside each figure."""
    return " ".join(sorted(f for f in cpu_flags() or () if f.startswith("avx"))) or "unknown"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name)[:80]


def run_one(name: str, v: dict, seed: int, steps: int, args) -> dict[str, dict[str, float]]:
    out = Path(args.out) / f"{args.dataset}{args.size}-{slug(name)}-{steps}-seed{seed}"
    started = (out / "checkpoints").is_dir() and any((out / "checkpoints").glob("*.safetensors"))
    if not started or load_checkpoint(out).step < steps:
        t0 = time.perf_counter()
        plan = (plan_run(resume=out, data_root=args.data_root, train={"max_steps": steps}) if started
                else plan_for(v, seed, steps, out, args))
        r = train(plan, device=args.device)
        print(f"  trained {out.name} in {time.perf_counter() - t0:.0f} s ({r.images_per_s:,.0f} img/s)", flush=True)
    c = load_checkpoint(out)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    div = [x["diversity"] for x in lines if "diversity" in x]
    speed = [x["img_per_s"] for x in lines if "img_per_s" in x]
    data = checkpoint_data(c, "train", data_root=args.data_root)
    results = {}
    for which in (["G", "EMA"] if c.has_ema else ["G"]):
        ema = which == "EMA"
        r = evaluate(c, n=args.n, features="domain", ema=ema, device=args.device, data_root=args.data_root)
        shown = torch.from_numpy(uint8_from_seeds(c.generator(args.device, ema=ema), list(range(10**6, 10**6 + args.n))))
        sure = confident_share(shown, data) if data.labels is not None else float("nan")
        results[which] = r.metrics | {"diversity": div[-1] if div else float("nan"), "confident": sure,
                                      "img/s": statistics.median(speed) if speed else float("nan"), "steps": c.step}
        print(f"  {out.name} {which}: " + ", ".join(f"{k} {v:.4g}" for k, v in results[which].items()), flush=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", "--recipe", action="append", dest="variants")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--data-root", type=Path, default=None)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--preset", default="paper64", help="the preset of variants that name none ('none': the data set's)")
    ap.add_argument("--steps", type=int, default=None, help="every variant trains this many steps (default 282)")
    ap.add_argument("--seconds", type=float, default=None, help="every variant trains as many steps as this buys")
    ap.add_argument("--probe-steps", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=None, help="default: each variant's own (64 in the paper rows)")
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="runs/quality")
    args = ap.parse_args()
    if args.dataset == "mnist" and args.data_root is None:
        args.data_root = SHARED_MNIST
    if args.preset == "none":
        args.preset = None
    names = args.variants or ["paper", "default"]
    variants = {name: parse_variant(name) for name in names}
    for v in variants.values():
        if v["recipe"] == "paper" and args.batch_size is None:
            v["train"].setdefault("batch_size", 64)
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = {name: args.steps or 282 for name in names}
    if args.seconds is not None:
        timing = {name: [] for name in names}
        for _ in range(args.rounds):
            for name, v in variants.items():
                timing[name].append(seconds_per_step(name, v, args))
        for name in names:
            sps = statistics.median(timing[name])
            steps[name] = max(1, int(args.seconds / sps))
            print(f"{name}: {sps * 1000:.1f} ms a step -> {steps[name]} steps in {args.seconds:g} s", flush=True)
    table: dict[tuple[str, str], list[dict[str, float]]] = {}
    for seed in seeds:
        for name, v in variants.items():
            for which, m in run_one(name, v, seed, steps[name], args).items():
                table.setdefault((name, which), []).append(m)
    budget = f"{args.seconds:g} s of training each" if args.seconds else f"{args.steps or 282} steps each"
    print(f"\n{args.dataset} {args.size}px, {budget}, seeds {args.seeds}, domain features, {args.n} generated vs "
          f"{args.n} real (train): mean ± std over seeds; torch {torch.__version__}; CPU flags: {avx_flags()}")
    keys = ("fid", "kid", "precision", "recall", "confident", "diversity", "img/s", "steps")
    print("| variant | " + " | ".join(keys) + " | collapsed |")
    print("|---" * (len(keys) + 2) + "|")
    for (name, which), ms in table.items():
        cells = []
        for key in keys:
            vals = [m[key] for m in ms]
            sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
            cells.append(f"{statistics.mean(vals):.3g} ± {sd:.2g}")
        collapsed = sum(m["diversity"] < COLLAPSE_BELOW for m in ms)
        print(f"| {name} {which} | " + " | ".join(cells) + f" | {collapsed}/{len(ms)} |", flush=True)


if __name__ == "__main__":
    main()
