"""`dcgan explain`: what D looks at (paper fig. 5)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.defaults import EXPLAIN_FEATURES, EXPLAIN_N, EXPLAIN_PER
from ..core.files import check_outputs
from .common import Cache, Ckpt, Device, Out, Root, device, json_option, say_which_checkpoint, seed_option
from .console import emit

N = Annotated[int, typer.Option("--n", help="Real test images to choose from.")]
Features = Annotated[int, typer.Option(help="D's first N last-block features, a row each.")]
Per = Annotated[int, typer.Option(help="Images per feature: those that excite it most.")]
JsonPath = json_option("Write the figures as JSON.")
Seed = seed_option("Seed for the image subset and the random D.")


def explain(
    ckpt: Ckpt = None, n: N = EXPLAIN_N, features: Features = EXPLAIN_FEATURES, per: Per = EXPLAIN_PER, out_path: Out = None,
    json_path: JsonPath = None, seed: Seed = 0, data_root: Root = None, cache_dir: Cache = None, device_name: Device = "auto",
):
    """What D looks at (paper fig. 5): guided backpropagation of D's last-block features on real images, trained vs random D.
    Example: dcgan explain runs/demo"""
    say_which_checkpoint(ckpt)
    from ..analyses.explain import explain as run_explain

    check_outputs(out_path, json_path)
    result = run_explain(ckpt, n=n, features=features, per=per, seed=seed, data_root=data_root, cache_dir=cache_dir,
                         device=device(device_name))
    emit(result, out=out_path, json_path=json_path)
