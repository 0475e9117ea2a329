"""`dcgan data prepare|info`: the decoded-once data caches."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Cache, Dataset, Root, Split
from .console import cli_errors, emit, progress

app = typer.Typer(help="Prepare and list the decoded-once data caches.", no_args_is_help=True)

PrepareDataset = Annotated[Dataset, typer.Option(help="The data set.")]
Size = Annotated[int, typer.Option(help="Image size: 28, 32, 64 or 128.")]
PrepareSplit = Annotated[Split, typer.Option(help="Which split.")]
Channels = Annotated[int | None, typer.Option(help="1 (grey) or 3 (colour); default: the data set's.", show_default=False)]
Download = Annotated[bool, typer.Option(help="Download the data set if it is missing.")]
Rebuild = Annotated[bool, typer.Option(help="Rebuild even when the cache is up to date.")]
Workers = Annotated[int | None, typer.Option(help="Decoding threads (default: all cores).", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print the list as JSON.")]


@app.command("prepare")
@cli_errors
def prepare(
    dataset: PrepareDataset, size: Size, data_root: Root = None, split: PrepareSplit = "train", channels: Channels = None,
    cache_dir: Cache = None, download: Download = False, rebuild: Rebuild = False, workers: Workers = None,
):
    """Decode, crop and resize a data set once into a memory-mapped cache.
    Example: dcgan data prepare --dataset celeba --size 64"""
    from ..data.listing import prepare as build

    with progress(f"preparing {dataset} {size}px") as bar:
        result = build(dataset, size, root=data_root, split=split, cache_root=cache_dir, download=download, rebuild=rebuild,
                       workers=workers, channels=channels, on_progress=bar)
    emit(result)


@app.command("info")
@cli_errors
def info(cache_dir: Cache = None, as_json: AsJson = False):
    """List prepared caches with their counts, sizes and labels."""
    from ..data.listing import cache_listing

    emit(cache_listing(cache_dir), as_json=as_json)
