"""`dcgan nn-search`: the training images nearest to samples or to your images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import HOLDOUT, NEIGHBOURS, NN_MEMORY_MB, NN_SEEDS
from ..core.errors import UsageError
from ..core.files import check_outputs
from ..core.seeds import resolve_seeds
from .common import Cache, Ckpt, Device, Ema, N, Out, Root, Seeds, Split, device, json_option, say_which_checkpoint
from .console import emit, progress

K = Annotated[int, typer.Option("--k", help="Neighbours per query.")]
Query = Annotated[list[Path] | None, typer.Option(
    "--query", help="Image file(s) to search for instead of samples.", show_default=False)]
Project = Annotated[bool, typer.Option(
    "--project", help="Also search each --query image's reconstruction by G (projected first).")]
SearchSplit = Annotated[Split, typer.Option(help="Search the train or the test split.")]
Holdout = Annotated[int, typer.Option(help="Unseen real images for the memorization statistic (0: skip).")]
ChunkSize = Annotated[int | None, typer.Option(
    help=f"Training images per matrix product (default: {NN_MEMORY_MB} MB of float32).", show_default=False)]
JsonPath = json_option("Write the full report as JSON.")


def nn_search(
    ckpt: Ckpt = None, n: N = None, seeds: Seeds = None, k: K = NEIGHBOURS, query: Query = None, project: Project = False,
    split: SearchSplit = "train", holdout: Holdout = HOLDOUT, out_path: Out = None, json_path: JsonPath = None,
    chunk_size: ChunkSize = None, data_root: Root = None, cache_dir: Cache = None, ema: Ema = None,
    device_name: Device = "auto",
):
    """Find the training images nearest (squared L2) to generated samples (default seeds 0-7): is the GAN copying?

    Example: dcgan nn-search runs/demo --n 8 --k 5 --json nn.json
    """
    say_which_checkpoint(ckpt)
    from ..search.nn_search import nn_search as search

    check_outputs(out_path, json_path)
    if query and (n is not None or seeds is not None):
        raise UsageError("give --query images or --n/--seeds, not both")
    queries = list(query) if query else resolve_seeds(n, seeds, NN_SEEDS, limit=10_000)
    with progress(f"searching {split} images") as bar:
        result = search(ckpt, queries, k=k, split=split, holdout=holdout, chunk_size=chunk_size, device=device(device_name),
                        data_root=data_root, cache_dir=cache_dir, ema=ema, project=project, on_progress=bar)
    emit(result, out=out_path, json_path=json_path)
