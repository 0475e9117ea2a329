"""Does dropping a concept's maps make G forget it? `dcgan ablate` on several shapes generators.

    python benchmarks/ablate_check.py --runs /tmp/bench/qshapes80 --recipe paper --seeds 1,2,3

For each seed's shapes32 run (benchmarks/quality.py --dataset shapes --size 32 --steps 1250
--batch-size 64 trains them; `--runs` is its --out) and each concept, runs
dcgan_cli.analyses.ablate.run (what `dcgan ablate` calls) and prints the attribute model's share
of the concept before, after dropping its maps, and after dropping as many random maps.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from dcgan_cli.analyses.ablate import ablate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=Path("runs/quality"))
    ap.add_argument("--recipe", default="paper")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--concepts", default="triangle,square,circle,red,blue,large")
    ap.add_argument("--bank", type=int, default=2048)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rows: dict[str, list[tuple[float, float, float, int]]] = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        run_dir = args.runs / f"shapes32-{args.recipe.replace(' ', '_')}-seed{seed}"
        for concept in args.concepts.split(","):
            r = ablate(run_dir, concept, n=args.bank, device=args.device)
            rows.setdefault(concept, []).append((r.share_before, r.share_after, r.share_random, len(r.dropped)))
            print(f"  seed {seed} {concept}: {r.share_before:.1%} -> {r.share_after:.1%} (random maps {r.share_random:.1%}), "
                  f"{len(r.dropped)} of {r.maps} maps dropped", flush=True)
    print("\n| concept | before | after dropping its maps | after dropping as many random maps | maps dropped |")
    print("|---|---|---|---|---|")
    for concept, vals in rows.items():
        def cell(i: int, pct: bool = True) -> str:
            xs = [v[i] for v in vals]
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            return f"{statistics.mean(xs):.1%} ± {sd:.1%}" if pct else f"{statistics.mean(xs):.1f}"
        print(f"| {concept} | {cell(0)} | {cell(1)} | {cell(2)} | {cell(3, False)} of 32 |")
    print(f"\nmean ± standard deviation over seeds {args.seeds}; share = attribute model's p > 0.5 on {args.bank} samples")


if __name__ == "__main__":
    main()
