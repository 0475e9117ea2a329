"""`dcgan sample`: images from seeds, as a grid, a folder of seed-N.png or one .npz."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ..core.defaults import FIRST_SEARCH, MIN_CAPTIONED, MIN_CELL, RADIUS, SAMPLE_FORMATS, SAMPLE_SEEDS
from ..core.errors import UsageError
from ..core.files import check_folder_path, check_image_path
from ..core.seeds import resolve_seeds
from .common import Ckpt, Device, Ema, N, Out, Seeds, Trunc, device, say_which_checkpoint
from .console import emit, progress

Individual = Annotated[Path | None, typer.Option(help="Also write each image to this folder as seed-N.png.",
                                                 show_default=False)]
Nrow = Annotated[int | None, typer.Option(help="Images per grid row (default: square).", show_default=False)]
Fmt = Annotated[Literal[SAMPLE_FORMATS], typer.Option(  # type: ignore[valid-type]
    "--format", help="grid: one picture; png: a folder of seed-N.png; npz: one array file (for external tools).")]
Scale = Annotated[int | None, typer.Option(
    "--scale", help=f"Enlarge the grid's tiles N times, nearest (default: to {MIN_CELL} px or more; 1: the model's size).",
    show_default=False)]
Labels = Annotated[bool, typer.Option(
    "--labels/--no-labels", help=f"Caption each grid tile with its seed (tiles of {MIN_CAPTIONED} px or more); "
    "--no-labels for a plain grid.")]
Around = Annotated[int | None, typer.Option(
    help="More like this: each --seeds seed is a small step around this seed's z instead of a sample of its own "
    "(default: none, each seed its own sample).")]
Radius = Annotated[float, typer.Option(
    help="With --around: how far each step goes (0: the seed itself; 1: unrelated).")]
Read = Annotated[bool, typer.Option(
    "--read", help="Also print what the data set's attribute classifier reads in each sample (trained once on first use, "
    "then cached).", rich_help_panel="Reading")]
Label = Annotated[str | None, typer.Option(
    "--label", help="Samples the data set's classifier reads as these words ('seven', 'red square'): the first --n seeds "
    f"that read so (default {SAMPLE_SEEDS}), found once in the cached labels of seeds 0-{FIRST_SEARCH - 1} (more when needed).",
    rich_help_panel="Reading", show_default=False)]
DataRoot = Annotated[Path | None, typer.Option(
    "--data-root", help="Where the data set's files are, for --read when its cache is gone "
    "(default $DCGAN_DATA or ~/.cache/dcgan/data).", rich_help_panel="Reading")]


def check_target(fmt: str, out: Path | None) -> None:
    """Refuse, before any work, an --out that the format cannot write."""
    if out is None:
        return
    if fmt == "grid":
        check_image_path(out)
    elif fmt == "png":
        check_folder_path(out, "--out")
    elif out.suffix.lower() != ".npz" or out.is_dir():
        raise UsageError(f"--out {out}: --format npz writes one .npz file; give a name ending in .npz")


def sample(
    ckpt: Ckpt = None, n: N = None, seeds: Seeds = None, out_path: Out = None, individual: Individual = None,
    nrow: Nrow = None, fmt: Fmt = "grid", trunc: Trunc = 1.0, scale: Scale = None, labels: Labels = True,
    around: Around = None, radius: Radius = RADIUS, read: Read = False, label: Label = None, data_root: DataRoot = None,
    ema: Ema = None, device_name: Device = "auto",
):
    """Generate images, each from its own seed (default seeds 0-63). Example: dcgan sample runs/demo --seeds 0-15"""
    say_which_checkpoint(ckpt)
    from ..latent.sample import sample as draw

    check_target(fmt, out_path)
    if label is not None and seeds is not None:
        raise UsageError("--label finds the seeds; give --n (how many) rather than --seeds")
    with progress("generating, then reading" if read else "generating") as bar:
        result = draw(ckpt, resolve_seeds(n, seeds, SAMPLE_SEEDS), label=label, fmt=fmt, nrow=nrow, individual=individual,
                      trunc=trunc, scale=scale, labels=labels, ema=ema, around=around, radius=radius, read=read,
                      device=device(device_name), data_root=data_root, on_progress=bar)
    emit(result, out=out_path)
