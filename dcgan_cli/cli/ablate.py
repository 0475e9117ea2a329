"""`dcgan ablate`: forgetting to draw (paper 6.3.1)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.defaults import ABLATE_BANK, ABLATE_SEEDS
from ..core.files import check_outputs
from ..core.seeds import resolve_seeds
from .common import Cache, Ckpt, Device, Ema, N, Out, Root, Seeds, device, json_option, say_which_checkpoint
from .console import emit, progress

Concept = Annotated[str, typer.Option(help="A label of the data set to make G forget, e.g. triangle or red.")]
Bank = Annotated[int, typer.Option(help="Generated samples to find the maps in and to measure on.")]
JsonPath = json_option("Write the dropped maps and the shares as JSON.")


def ablate(
    ckpt: Ckpt = None, concept: Concept = ..., n: N = None, seeds: Seeds = None, bank: Bank = ABLATE_BANK, out_path: Out = None,
    json_path: JsonPath = None, ema: Ema = None, data_root: Root = None, cache_dir: Cache = None, device_name: Device = "auto",
):
    """Forgetting to draw (paper 6.3.1): drop the G feature maps that carry a concept, with and without (seeds 0-15).
    Example: dcgan ablate runs/demo --concept triangle"""
    say_which_checkpoint(ckpt)
    from ..analyses.ablate import ablate as forget

    check_outputs(out_path, json_path)
    shown = resolve_seeds(n, seeds, ABLATE_SEEDS, limit=256)
    with progress("ablating") as bar:
        result = forget(ckpt, concept, n=bank, seeds=shown, ema=ema, data_root=data_root, cache_dir=cache_dir,
                        device=device(device_name), on_progress=bar)
    emit(result, out=out_path, json_path=json_path)
