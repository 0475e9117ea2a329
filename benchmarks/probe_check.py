"""Is the trained D a better representation than its controls? The paper's probe on real MNIST.

    python benchmarks/probe_check.py --seeds 1,2,3 --labels 100,0
    python benchmarks/probe_check.py --out /tmp/bench/quality --recipe "paper+ema"   # reuse quality.py's runs

For each seed, the generator of benchmarks/quality.py's run (MNIST from ../shared at 64 px, the
paper's network, 282 steps; trained here when missing, with the same library calls) is probed
with dcgan_cli.analyses.probe.run (what `dcgan probe` calls): trained D, a random D of the same
architecture (seeded by the run's seed) and pixels, for each labels-per-class setting
(0 = every labelled training image). Prints mean and spread over the seeds of each seed's mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import SHARED_MNIST, VARIANTS, parse_variant  # noqa: E402

from dcgan_cli.analyses.probe import REPRESENTATIONS, probe
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.training import plan_run, train


def ensure_run(out: Path, recipe: str, seed: int, args) -> Path:
    ckpts = out / "checkpoints"
    if ckpts.is_dir() and any(ckpts.glob("*.safetensors")) and load_checkpoint(out).step >= args.steps:
        return out
    v = parse_variant(recipe)
    t0 = time.perf_counter()
    plan = plan_run(dataset="mnist", preset="paper64", recipe=v["recipe"] or "paper", data_root=args.data_root, out=out,
                    model={"size": 64, **v["model"]},
                    train={"max_steps": args.steps, "batch_size": 64, "seed": seed, **v["train"]})
    train(plan, device=args.device)
    print(f"  trained {out.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--recipe", default="paper", help=f"a variant of quality.py: {', '.join(VARIANTS)}, or key=value;...")
    ap.add_argument("--labels", default="100,0", help="labels per class, comma-separated; 0 = all")
    ap.add_argument("--repeats", type=int, default=3, help="labelled draws per seed (for settings below all labels)")
    ap.add_argument("--steps", type=int, default=282)
    ap.add_argument("--data-root", type=Path, default=SHARED_MNIST)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", type=Path, default=Path("runs/quality"))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    table: dict[tuple[int, str], list[float]] = {}
    for seed in seeds:
        run_dir = ensure_run(args.out / f"mnist64-{args.recipe.replace(' ', '_')}-seed{seed}", args.recipe, seed, args)
        for labels in (int(x) for x in args.labels.split(",")):
            t0 = time.perf_counter()
            r = probe(
                run_dir,
                data_root=args.data_root,
                labels_per_class=labels or None,
                repeats=args.repeats if labels else 1,
                seed=seed,
                device=args.device,
            )
            for row in r.rows:
                table.setdefault((labels, row.representation), []).append(row.accuracy)
            print(
                f"  seed {seed}, {labels or 'all'} labels/class ({r.n_train} train, {r.n_test} test, "
                f"{time.perf_counter() - t0:.0f} s): "
                + ", ".join(f"{row.representation} {row.accuracy:.2%} (C {row.C})" for row in r.rows),
                flush=True,
            )
    print(f"\n| labels per class | {' | '.join(REPRESENTATIONS)} |")
    print("|---|" + "---|" * len(REPRESENTATIONS))
    for labels in (int(x) for x in args.labels.split(",")):
        cells = []
        for rep in REPRESENTATIONS:
            accs = table[(labels, rep)]
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            cells.append(f"{statistics.mean(accs):.2%} ± {sd:.2%}")
        print(f"| {labels or 'all'} | " + " | ".join(cells) + " |")
    print(f"\nseeds {seeds}; mean ± standard deviation over seeds of test accuracy (error = 1 - accuracy)")


if __name__ == "__main__":
    main()
