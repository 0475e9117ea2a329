"""How well does `dcgan project` find real images the generator never saw? (issue: projection)

    python benchmarks/project_check.py                       # 3 generators, 200 held-out images each
    python benchmarks/project_check.py --images 50 --only shapes32
    python benchmarks/project_check.py --images 50 --ckpt shapes      # the bundled model

Generators (trained here with the library's own calls when missing, under --out):
  shapes32  the built-in shapes at 32 px, default length;   held out: the test split (drawn with another seed)
            (shapes32-seed2: the same, trained from another seed)
  mnist32   MNIST from ../shared at 32 px, --kimg 40;       held out: MNIST test digits
  mnist64   MNIST at 64 px, the paper's network, --kimg 20; held out: MNIST test digits

For each, on the same held-out images, the reconstruction error of:
  mean image       the mean training image (a floor any method must beat)
  nearest train    the nearest training image by pixel L2 (not a projection: what copying would give)
  best of 1000 z   the best of 1,000 fixed random z by pixel MSE
  optimisation     dcgan project without an encoder (best random starts, 200 Adam steps, 4 starts)
  encoder alone    the encoder's guess (dcgan project --steps 0)
  encoder + opt    dcgan project with the encoder (trained once, 1000 steps; its time is printed)
  ..., pixel only  the same two without the D-feature term in the loss
Errors: pixel MSE in [-1, 1] units (median and mean), and the distance between the domain
classifier's features of target and reconstruction (the classifier the projection never sees).
"Label kept": the domain classifier reads the same label in the reconstruction as the held-out
image's true label (MNIST: the digit; shapes: shape, colour and size each, and all three).
Time per image on this machine's CPU (threads = its cores), batch of 16 images.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import SHARED_MNIST  # noqa: E402

from dcgan_cli.attributes.classifier import dataset_classifier
from dcgan_cli.attributes.expectations import attributes_of
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.pixels import flat_model_range, to_model_range, to_uint8
from dcgan_cli.data import checkpoint_data
from dcgan_cli.projection.encoder import EncoderSettings, train_encoder
from dcgan_cli.projection.optimise import (
    ProjectSettings,
    find_z,
    random_candidates,
)
from dcgan_cli.search.exact import nearest
from dcgan_cli.training import plan_run, train

GENERATORS = {
    "shapes32": dict(dataset="shapes", model={}, train={"seed": 1}),
    "shapes32-seed2": dict(dataset="shapes", model={}, train={"seed": 2}),
    "mnist32": dict(dataset="mnist", model={"size": 32}, train={"seed": 1, "kimg": 40}),
    "mnist64": dict(dataset="mnist", preset="paper64", model={"size": 64}, train={"seed": 1, "kimg": 20}),
}


def ensure_run(name: str, out: Path, data_root: Path) -> Path:
    run = out / name
    if (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("*.safetensors")):
        return run
    spec = GENERATORS[name]
    t0 = time.perf_counter()
    plan = plan_run(dataset=spec["dataset"], preset=spec.get("preset"), model=spec["model"], train=spec["train"],
                    data_root=data_root if spec["dataset"] == "mnist" else None, out=run)
    train(plan, device="cpu")
    print(f"  trained {name} in {time.perf_counter() - t0:.0f} s", flush=True)
    return run


def label_kept(classifier, attrs, recon: torch.Tensor, labels) -> dict[str, float]:
    """Share of reconstructions whose classifier reading equals the real image's true label, per attribute."""
    probs = classifier.predict(recon)
    truth = torch.as_tensor(labels, dtype=torch.float32)
    out, every = {}, torch.ones(len(recon), dtype=torch.bool)
    for a in attrs:
        seen = a.read(probs)[0]
        want = a.read(truth)[0]
        ok = seen == want
        out[a.name] = float(ok.float().mean())
        every &= ok
    if len(attrs) > 1:
        out["all"] = float(every.float().mean())
    return out


def errors(target: torch.Tensor, recon: torch.Tensor, classifier) -> dict[str, float]:
    mse = (recon - target).pow(2).flatten(1).mean(1)
    fa, fb = classifier.features(to_uint8(target)), classifier.features(to_uint8(recon))
    feat = (fa - fb).norm(dim=1)
    return {"mse_median": float(mse.median()), "mse_mean": float(mse.mean()), "feature_median": float(feat.median())}


def check(name: str, run: Path, n_images: int, steps: int, encoder_steps: int, data_root: Path) -> list[dict]:
    c = load_checkpoint(run)
    G, D = c.generator(), c.discriminator()
    train_data = checkpoint_data(c, "train", data_root=data_root if c.dataset.name == "mnist" else None)
    held = checkpoint_data(c, "test", data_root=data_root if c.dataset.name == "mnist" else None)
    idx = torch.randperm(held.images.shape[0], generator=torch.Generator().manual_seed(7))[:n_images].sort().values.numpy()
    target = to_model_range(held.images[idx]).float()
    labels = held.labels[idx]
    classifier = dataset_classifier(train_data)
    attrs = attributes_of(classifier.label_names, classifier.groups)
    rows = []

    def add(method: str, recon: torch.Tensor, seconds: float | None, extra: str = "") -> None:
        row = {"generator": name, "method": method, **errors(target, recon, classifier),
               "kept": label_kept(classifier, attrs, recon, labels),
               "s_per_image": None if seconds is None else seconds / n_images, "note": extra}
        rows.append(row)
        kept = ", ".join(f"{k} {v:.0%}" for k, v in row["kept"].items())
        t = "" if seconds is None else f", {1000 * seconds / n_images:.1f} ms/image"
        print(f"  {name:9s} {method:15s} MSE median {row['mse_median']:.4f} mean {row['mse_mean']:.4f}  "
              f"feature {row['feature_median']:.3f}  kept: {kept}{t} {extra}", flush=True)

    add("the images themselves", target, None, "(the judge's ceiling: its reading of the real images)")
    mean_image = flat_model_range(train_data.images[:]).float().mean(0).view(1, *target.shape[1:])
    add("mean image", mean_image.expand_as(target), None)
    nb = nearest(target, train_data.images, 1)
    add("nearest train", flat_model_range(train_data.images[nb.indices[:, 0].numpy()]).float().view_as(target), None)
    t0 = time.perf_counter()
    z, _ = random_candidates(G, target, 1000, 1, 0)
    with torch.no_grad():
        add("best of 1000 z", G(z[:, 0]), time.perf_counter() - t0)
    settings = ProjectSettings(steps=steps)
    t0 = time.perf_counter()
    p = find_z(G, D, target, settings)
    add("optimisation", p.images, time.perf_counter() - t0)
    t0 = time.perf_counter()
    E = train_encoder(G, D, train_data.images, EncoderSettings(steps=encoder_steps))
    trained = time.perf_counter() - t0
    t0 = time.perf_counter()
    with torch.no_grad():
        guess = G(E(target))
    add("encoder alone", guess, time.perf_counter() - t0, f"(encoder trained once in {trained:.0f} s)")
    t0 = time.perf_counter()
    pe = find_z(G, D, target, settings, encoder=E)
    share = sum(s == "encoder" for s in pe.started_from) / n_images
    add("encoder + opt", pe.images, time.perf_counter() - t0, f"(encoder start won for {share:.0%})")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(GENERATORS))
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--encoder-steps", type=int, default=1000)
    ap.add_argument("--data-root", type=Path, default=SHARED_MNIST)
    ap.add_argument("--out", type=Path, default=Path("runs/project_check"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--ckpt", action="append", help="check these checkpoints (a path or a bundled model's name, e.g. shapes) "
                    "instead of --only's generators")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    rows = []
    for target in args.ckpt or []:
        rows += check(str(target), target, args.images, args.steps, args.encoder_steps, args.data_root)
    for name in ([] if args.ckpt else args.only.split(",")):
        if GENERATORS[name]["dataset"] == "mnist" and not args.data_root.is_dir():
            print(f"  {name}: skipped, no MNIST at {args.data_root}")
            continue
        run = ensure_run(name, args.out, args.data_root)
        rows += check(name, run, args.images, args.steps, args.encoder_steps, args.data_root)
    print("\ngenerator  method           median MSE  vs best-of-1000   label kept (all)")
    for name in dict.fromkeys(r["generator"] for r in rows):
        mine = [r for r in rows if r["generator"] == name]
        base = next(r for r in mine if r["method"] == "best of 1000 z")["mse_median"]
        for r in mine:
            kept = r["kept"].get("all", next(iter(r["kept"].values())))
            ratio = f"{base / r['mse_median']:5.2f}x lower" if r["mse_median"] > 0 else "    -       "
            print(f"{name:10s} {r['method']:16s} {r['mse_median']:.4f}      {ratio}   {kept:.0%}")
    ours = [r for r in rows if r["method"] == "encoder + opt"]
    if ours:
        def baseline(r):
            return next(x for x in rows if x["generator"] == r["generator"] and x["method"] == "best of 1000 z")["mse_median"]

        ratio = min(baseline(r) / r["mse_median"] for r in ours)
        kept = min(r["kept"].get("all", next(iter(r["kept"].values()))) for r in ours)
        print(f"\nencoder + opt vs best of 1000 z, lowest ratio over generators: {ratio:.2f}x (goal 2x)")
        print(f"label kept (all attributes), lowest: {kept:.0%} (goal 90%)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
