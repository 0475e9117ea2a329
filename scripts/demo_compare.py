"""The demo's last step: its own run beside a bundled model, the same seeds drawn by each, and what each is.

    python scripts/demo_compare.py runs/demo --model shapes     # writes runs/demo/compare.png and prints how each was made

Beside the comparison it draws the bundled model's own pictures, as the demo drew its run's: 64 samples
(RUN/bundled-shapes-samples.png) and four walks (RUN/bundled-shapes-interpolation.png), in this one process
(each `dcgan` command would import torch again: the demo's extra steps stay within seconds).

`make demo` calls it after training its minute-long run, so a new user sees at once what the tool's
own recipe draws after a minute and what the same tool draws after a long run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import dcgan_cli as dc
from dcgan_cli.core.checkpoint import as_checkpoint
from dcgan_cli.core.images import labelled_grid, save_pil
from dcgan_cli.latent.interpolate import seed_rows


def run_seconds(c) -> float | None:
    """Training time of a run, from its metrics log: each window's images over its images/s."""
    if c.run is None:
        return None
    seconds, last = 0.0, 0
    for rec in c.run.read_metrics():
        if rec.get("img_per_s") and rec["step"] > last:
            seconds += (rec["step"] - last) * c.train_config.batch_size / rec["img_per_s"]
            last = rec["step"]
    return seconds or None


def how_long(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("--model", default="shapes")
    ap.add_argument("--seeds", type=int, default=12, help="seeds 0..N-1 from each")
    ap.add_argument("--out", type=Path, help="default: RUN/compare.png")
    ap.add_argument("--no-pictures", action="store_true", help="only the comparison, not the bundled model's own pictures")
    args = ap.parse_args()
    ours, theirs = as_checkpoint(args.run), dc.load_checkpoint(args.model)
    made = theirs.meta.get("provenance") or {}
    seeds = list(range(args.seeds))
    mine_images = ours.step * ours.train_config.batch_size * int(ours.meta.get("world_size", 1))
    rows = [dc.sample(ours, seeds).images(), dc.sample(theirs, seeds).images()]
    labels = [f"this run: {mine_images / 1000:,.0f}k images, {how_long(run_seconds(ours))}",
              f"bundled {args.model}: {made.get('images_seen', 0) / 1000:,.0f}k images, {how_long(made.get('train_seconds'))}"]
    picture = labelled_grid(rows, labels, [f"seed {s}" for s in seeds], min_cell=64,
                            title="the same seeds from two generators trained by `dcgan train`")
    out = save_pil(picture, args.out or args.run / "compare.png")
    print(f"wrote {out}")
    if not args.no_pictures:
        for kind, result in (("samples", dc.sample(theirs, list(range(64)))),
                             ("interpolation", dc.interpolate(theirs, pairs=seed_rows(0, 1, 4), steps=9))):
            for path in result.save(args.run / f"bundled-{args.model}-{kind}.png"):
                print(f"wrote {path}")
    print(f"{args.run}: trained here by the default recipe in {how_long(run_seconds(ours))} ({mine_images:,} images); "
          "its samples are still forming: that is early in a GAN's training")
    print(f"{args.model}: the bundled model, {made.get('images_seen', 0):,} images in {how_long(made.get('train_seconds'))} "
          f"on {made.get('device', '?')}; made with: {made.get('command', '?')}")
    print(f"use it by name: dcgan sample {args.model} --seeds 0-63; dcgan explore {args.model}; `dcgan models` lists them all")


if __name__ == "__main__":
    main()
