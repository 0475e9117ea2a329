"""Does latent arithmetic work? Evaluate expressions on a shapes model and score the results.

    python benchmarks/arithmetic_check.py --ckpt runs/shapes        # an existing shapes run
    python benchmarks/arithmetic_check.py --train-epochs 30         # or train one first

For each expression, the result vector and 8 noisy variants (as `dcgan arithmetic` draws them)
are generated and judged by the attribute classifier trained on the real shapes images; an
image matches when, in every attribute group the expression expects (shape, colour, size),
the classifier's most likely value is the expected one.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from dcgan_cli.arithmetic import combine, concept_from_bank, to_prior_shell, parse_expression, phrase_constraints, sample_bank, vocabulary
from dcgan_cli.cache import open_cache
from dcgan_cli.checkpoint import load_checkpoint
from dcgan_cli.errors import DcganError
from dcgan_cli.sample import generate
from dcgan_cli.shapes import GROUPS

EXPRESSIONS = {
    "red circle - circle + square": {"red", "square"},
    "blue square - square + triangle": {"blue", "triangle"},
    "green triangle - green + yellow": {"yellow", "triangle"},
    "yellow square - yellow + red": {"red", "square"},
    "large circle - large + small": {"small", "circle"},
    "small blue triangle - small + large": {"large", "blue", "triangle"},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path)
    ap.add_argument("--train-epochs", type=int, default=30)
    ap.add_argument("--out", type=Path, default=Path("runs/arithmetic-check"))
    ap.add_argument("--variants", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4096)
    args = ap.parse_args()
    if args.ckpt is None:
        subprocess.run([sys.executable, "-m", "dcgan_cli", "train", "--dataset", "shapes", "--epochs", str(args.train_epochs),
                        "--batch-size", "64", "--out", str(args.out), "--device", "cpu"], check=True)
        args.ckpt = args.out
    c = load_checkpoint(args.ckpt)
    data = open_cache(Path(c.dataset["cache"]))
    bank = sample_bank(c, data.images, data.labels, data.label_names, n=args.samples)
    names = bank.attr_model.label_names
    vocab = vocabulary("shapes", names)
    G = c.generator("cpu")
    noise = torch.randn(args.variants, c.model_config.nz, generator=torch.Generator().manual_seed(0)) * 0.25
    print(f"checkpoint {c.path} (step {c.step}); attribute model {bank.accuracy:.1%} on {bank.heldout} held-out real images")
    total = hits = 0
    for expr, expected in EXPRESSIONS.items():
        terms = parse_expression(expr)
        try:
            concepts = [concept_from_bank(bank, t.phrase, w) for t, w in zip(terms, phrase_constraints(terms, vocab))]
        except DcganError as e:  # the model draws a concept too rarely: every result counts as a miss
            total += 1 + args.variants
            print(f"{expr:40s} -> no concept vector: {e}")
            continue
        r = to_prior_shell(combine(terms, concepts), c.model_config)
        probs = bank.attr_model.predict(generate(G, torch.cat([r[None], r[None] + noise])))
        ok = torch.ones(probs.shape[0], dtype=torch.bool)
        for group in GROUPS:
            want = expected & set(group)
            if want:
                cols = [names.index(g) for g in group]
                best = [group[i] for i in probs[:, cols].argmax(1).tolist()]
                ok &= torch.tensor([b in want for b in best])
        seen = [" ".join(g[int(probs[0, [names.index(x) for x in g]].argmax())] for g in GROUPS)]
        total += len(ok)
        hits += int(ok.sum())
        print(f"{expr:40s} -> {' '.join(sorted(expected)):22s} {int(ok.sum())}/{len(ok)} match (result looks: {seen[0]})")
    print(f"overall: {hits}/{total} = {hits / total:.1%} of result images show the expected attributes")


if __name__ == "__main__":
    main()
