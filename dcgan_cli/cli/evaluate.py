"""`dcgan evaluate`: FID, KID, precision and recall, with their protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import CPU_N, FEATURE_BATCH, STANDARD_N
from ..core.files import check_file_target
from .common import Cache, Ckpt, Device, Ema, Features, Root, Split, device, json_option, say_which_checkpoint
from .console import emit, note, progress

Images = Annotated[Path | None, typer.Option(
    "--images", help="A folder of generated pictures instead of the checkpoint's samples.", show_default=False)]
Real = Annotated[Path | None, typer.Option(
    "--real", help="A folder of real pictures instead of the checkpoint's data split.", show_default=False)]
RealSplit = Annotated[Split, typer.Option(help="The real data split to compare with.")]
Metrics = Annotated[str, typer.Option(help="Comma-separated: fid, kid, pr (precision and recall).")]
N = Annotated[int | None, typer.Option(
    "--n", help="Images per side: generated from seeds 0..N-1, real a fixed random subset. "
    f"(default: {STANDARD_N:,} on a GPU, the standard protocol; {CPU_N:,} "
    "elsewhere, a first look; a split holding fewer is said)", show_default=False)]
FeatureSpace = Annotated[Features | None, typer.Option(
    help="Feature space (default: domain for labelled data sets, else inception).", show_default=False)]
BatchSize = Annotated[int, typer.Option(help="Images per feature batch.")]
JsonPath = json_option("Write the figures and their protocol as JSON.")


def evaluate(
    ckpt: Ckpt = None, images: Images = None, real: Real = None, split: RealSplit = "train", metrics: Metrics = "fid,kid,pr",
    n: N = None, features: FeatureSpace = None, batch_size: BatchSize = FEATURE_BATCH, ema: Ema = None,
    json_path: JsonPath = None, data_root: Root = None, cache_dir: Cache = None, device_name: Device = "auto",
):
    """Measure sample quality: FID, KID, precision and recall, with the protocol. Example: dcgan evaluate runs/demo --n 2048

    Two folders with no checkpoint: dcgan evaluate --images fakes/ --real reals/ --features inception
    """
    say_which_checkpoint(ckpt)
    from ..evaluation.evaluate import evaluate as measure
    from ..evaluation.evaluate import parse_metrics

    check_file_target(json_path, "--json")
    chosen = parse_metrics(metrics)
    with progress("evaluating") as bar:
        result = measure(ckpt, images=images, real=real, split=split, metrics=chosen, n=n, features=features,
                         batch_size=batch_size, ema=ema, device=device(device_name), data_root=data_root, cache_dir=cache_dir,
                         on_progress=bar, on_note=note)
    emit(result, json_path=json_path)
