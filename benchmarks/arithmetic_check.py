"""Does latent arithmetic work? Evaluate expressions on a shapes model and score the results.

    python benchmarks/arithmetic_check.py --ckpt runs/shapes        # an existing shapes run
    python benchmarks/arithmetic_check.py --train-epochs 40         # or train one first (about 12 min on 2 cores)

For each expression, the result vector and 8 noisy variants (as `dcgan arithmetic` draws them)
are generated and judged by the attribute classifier trained on the real shapes images; an
image matches when, in every attribute group the expression expects (shape, colour, size),
the classifier's most likely value is the expected one, with probability above 0.5.

It also prints a linear probe: how well a linear classifier on z predicts each attribute group
of the generated images. Mean-vector arithmetic can only move an attribute that z holds
linearly; a group that probes near its majority rate will not follow the arithmetic.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

from dcgan_cli.analysis.arithmetic import run, sample_bank
from dcgan_cli.checkpoint import load_checkpoint
from dcgan_cli.data import checkpoint_data
from dcgan_cli.data.shapes import GROUPS
from dcgan_cli.errors import DcganError

EXPRESSIONS = {
    "red circle - circle + square": {"red", "square"},
    "blue square - square + triangle": {"blue", "triangle"},
    "green triangle - green + yellow": {"yellow", "triangle"},
    "yellow square - yellow + red": {"red", "square"},
    "large circle - large + small": {"small", "circle"},
    "small blue triangle - small + large": {"large", "blue", "triangle"},
}


def linear_probe(z: torch.Tensor, y: torch.Tensor, classes: int) -> float:
    """Held-out accuracy (last quarter) of a softmax regression from z (M, nz) to class y (M,)."""
    cut = len(z) * 3 // 4
    w = torch.zeros(z.shape[1] + 1, classes, requires_grad=True)
    x = torch.cat([z, torch.ones(len(z), 1)], 1)
    opt = torch.optim.LBFGS([w], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x[:cut] @ w, y[:cut]) + 1e-3 * w[:-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return float(((x[cut:] @ w).argmax(1) == y[cut:]).float().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path)
    ap.add_argument("--train-epochs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=Path("runs/arithmetic-check"))
    ap.add_argument("--variants", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4096)
    ap.add_argument("--device", default="cpu", help="cpu (the README's figures), cuda, ...: where to train")
    args = ap.parse_args()
    if args.ckpt is None:
        subprocess.run([sys.executable, "-m", "dcgan_cli", "train", "--dataset", "shapes", "--epochs", str(args.train_epochs),
                        "--batch-size", "64", "--out", str(args.out), "--device", args.device], check=True)
        args.ckpt = args.out
    c = load_checkpoint(args.ckpt)
    data = checkpoint_data(c, "train")
    bank = sample_bank(c, data, n=args.samples)  # cached in the run folder: run() below reuses it
    names = bank.attr_model.label_names
    print(f"checkpoint {c.path} (step {c.step}); attribute model {bank.accuracy:.1%} on {bank.heldout} held-out real images")
    for group in GROUPS:
        y = bank.probs[:, [names.index(g) for g in group]].argmax(1)
        majority = float(torch.bincount(y[len(y) * 3 // 4 :]).max()) / (len(y) - len(y) * 3 // 4)
        print(f"linear probe z -> {'/'.join(group)}: {linear_probe(bank.z, y, len(group)):.0%} (majority class {majority:.0%})")
    total = hits = 0
    for expr, expected in EXPRESSIONS.items():
        try:
            # The same entry point as `dcgan arithmetic`: concept vectors, result, variants, labels.
            result = run(c, expr, data=data, samples=args.samples, variants=args.variants, device="cpu")
        except DcganError as e:  # the model draws a concept too rarely: every result counts as a miss
            total += 1 + args.variants
            print(f"{expr:40s} -> no concept vector: {e}")
            continue
        probs = bank.attr_model.predict(result.result_images)
        ok = torch.ones(probs.shape[0], dtype=torch.bool)
        for group in GROUPS:
            want = expected & set(group)
            if want:
                cols = [names.index(g) for g in group]
                best = [group[i] for i in probs[:, cols].argmax(1).tolist()]
                ok &= torch.tensor([b in want for b in best])
                # ... and sure of it: a smeared red blob is the 'most square' of three shapes at 0.3
                ok &= probs[:, names.index(next(iter(want)))] > 0.5
        seen = " ".join(g[int(probs[0, [names.index(x) for x in g]].argmax())] for g in GROUPS)
        total += len(ok)
        hits += int(ok.sum())
        print(f"{expr:40s} -> {' '.join(sorted(expected)):22s} {int(ok.sum())}/{len(ok)} match (result looks: {seen})")
    print(f"overall: {hits}/{total} = {hits / total:.1%} of result images show the expected attributes")


if __name__ == "__main__":
    main()
