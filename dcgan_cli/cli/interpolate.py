"""`dcgan interpolate`: walks through latent space between seeds, images or z files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import typer

from ..core.configs import PATH_METHODS
from ..core.defaults import WALK_STEPS
from ..core.errors import UsageError
from ..core.files import check_outputs
from ..core.seeds import MAX_SEED, Label, parse_seeds
from .common import Ckpt, Device, Ema, Out, Trunc, device, say_which_checkpoint
from .console import emit

Steps = Annotated[int, typer.Option(help="Frames per path, ends included.")]
From = Annotated[str, typer.Option("--from", help="The first end: a seed, words the data set's classifier reads ('seven', "
                                   "'red square': the first seed that reads so), an image (projected first) or a z file.")]
To = Annotated[str, typer.Option("--to", help="The last end: a seed, words ('eight'), an image or a z file.")]
Rows = Annotated[int, typer.Option(help="Independent rows; row i runs from seed FROM+2i to TO+2i (from words: the i-th seed "
                                   "that reads so).")]
Through = Annotated[str | None, typer.Option(help="One path through several seeds, e.g. 3,8,12,3 (loops).", show_default=False)]
Method = Annotated[Literal[PATH_METHODS] | None, typer.Option(  # type: ignore[valid-type]
    help="Path (default: slerp for normal z, lerp for uniform z).", show_default=False)]
Gif = Annotated[Path | None, typer.Option(help="Also write an animated GIF.", show_default=False)]


def parse_end(text: str, flag: str) -> int | Label | Path:
    """An end of a walk as typed: a seed (ASCII digits), words ('seven', 'red square': no file of that name
    here), else a path to an image or z file."""
    t = text.strip()
    if not t:
        raise UsageError(f"{flag} is empty: give a seed, words like 'seven', an image or a z file")
    if re.fullmatch(r"[+-]*[0-9]+", t):  # a number, perhaps signed: a seed or a mistake, never a file name
        if not re.fullmatch(r"\+?[0-9]+", t) or int(t) > MAX_SEED:
            raise UsageError(f"--from and --to must be seeds from 0 to 2^63-1 (or words, an image or a z file); {flag} is {t}")
        return int(t)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_' ]*", t) and not Path(text).exists():
        return Label(t)
    return Path(text)


def row_ends(from_end: str, to_end: str, rows: int) -> list[tuple[int | Label | Path, int | Label | Path]]:
    """--from/--to/--rows: seed rows (row i from FROM+2i to TO+2i; from words, the i-th seed that reads so),
    or one row between images or z files."""
    from ..latent.interpolate import seed_rows

    a, b = parse_end(from_end, "--from"), parse_end(to_end, "--to")
    if isinstance(a, int) and isinstance(b, int):
        return seed_rows(a, b, rows)
    if isinstance(a, Path) or isinstance(b, Path):
        if rows != 1:
            raise UsageError("--rows needs seeds or words at both ends (row i runs from seed FROM+2i); an image or z file "
                             "makes one row")
        return [(a, b)]
    seed_rows(a if isinstance(a, int) else 0, b if isinstance(b, int) else 0, rows)  # the same checks of --rows

    def end(e: int | Label, i: int) -> int | Label:
        return e + 2 * i if isinstance(e, int) else Label(e.phrase, i)

    return [(end(a, i), end(b, i)) for i in range(rows)]


def interpolate(
    ckpt: Ckpt = None, steps: Steps = WALK_STEPS, from_end: From = "0", to_end: To = "1", rows: Rows = 1, through: Through = None,
    method: Method = None, out_path: Out = None, gif: Gif = None, trunc: Trunc = 1.0, ema: Ema = None,
    device_name: Device = "auto",
):
    """Walk through latent space between seeds. Example: dcgan interpolate runs/demo --steps 9 --rows 4 --gif walk.gif"""
    say_which_checkpoint(ckpt)
    from ..latent.interpolate import interpolate as walk

    check_outputs(out_path)
    path = parse_seeds(through, "--through") if through is not None else None
    pairs = row_ends(from_end, to_end, rows) if through is None else None
    result = walk(ckpt, pairs=pairs, through=path, steps=steps, method=method, gif=gif, trunc=trunc, ema=ema,
                  device=device(device_name))
    emit(result, out=out_path)
