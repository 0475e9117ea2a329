"""What several commands share: the options every analysis takes (checkpoint, seeds, output,
device, EMA, data and cache folders), the choice types, and the device selector.

A command's own flags live in its module; only a flag that reads the same in two commands is here.
Defaults a user sees in --help come from the library (configs.py), never restated in prose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ..core.configs import DATASETS, FEATURES, SPLITS

# Choices as Literal types: --help lists them and shell completion offers them.
Dataset = Literal[DATASETS]  # type: ignore[valid-type]
Split = Literal[SPLITS]  # type: ignore[valid-type]
Features = Literal[FEATURES]  # type: ignore[valid-type]

Device = Annotated[str, typer.Option("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")]
Ckpt = Annotated[
    Path | None, typer.Argument(help="Checkpoint file, run folder or bundled model (`dcgan models`); "
                                "default: the newest run under ./runs.", show_default=False)
]
CkptOption = Annotated[
    Path | None, typer.Option("--ckpt", help="The checkpoint, run folder or bundled model, as an option (same as the "
                              "first argument).", show_default=False)
]
N = Annotated[int | None, typer.Option(
    "--n", help="Images from seeds 0..N-1 (short for --seeds 0-(N-1); default: the command's seeds, in its first line).",
    show_default=False)]
Seeds = Annotated[str | None, typer.Option(
    "--seeds", help="Seeds: a range 0-63, a list 3,7,9, or both; not with --n (default: the command's, in its first line).",
    show_default=False)]
Out = Annotated[
    Path | None,
    typer.Option("--out", "--outdir", help="File to write (default: in the run folder, named by the parameters).",
                 show_default=False),
]
Cache = Annotated[
    Path | None, typer.Option(help="Decoded-data cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).",
                              show_default=False),
]
Ema = Annotated[
    bool | None,
    typer.Option("--ema/--no-ema", help="Use the EMA generator (default: when the checkpoint has one).", show_default=False),
]
Root = Annotated[
    Path | None, typer.Option(help="Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).", show_default=False)
]
Trunc = Annotated[
    float,
    typer.Option("--trunc", help="Truncation psi: z scaled toward the prior's mean (1: none; 0.7 trades variety for fidelity)."),
]


def json_option(help: str) -> object:
    """A command's --json FILE: where its report goes."""
    return Annotated[Path | None, typer.Option("--json", help=help, show_default=False)]


def seed_option(help: str) -> object:
    return Annotated[int, typer.Option(help=help)]


def device(name: str):
    """The one device selector, imported late: torch loads only when a command runs."""
    from ..core.device import select_device

    return select_device(name)


def say_which_checkpoint(ckpt: Path | None) -> None:
    """Name, in one line, the checkpoint of a run folder the command uses when it is the run's kept best (the
    library's choice, made again there) or when the best is damaged and the newest serves instead."""
    from ..core.checkpoint import damaged_best, header_meta, run_best, run_checkpoints
    from ..core.runs import RunFolder
    from ..evaluation import metric_name
    from .console import note

    if ckpt is None or not Path(ckpt).is_dir():
        return
    run = RunFolder(Path(ckpt))
    kept = run_best(run)  # what resolve_checkpoint(best=True) picks first in a run folder
    if kept is None:
        damaged = damaged_best(run)
        if damaged is not None:
            note(f"note: {damaged}")
        return
    best = header_meta(kept).get("best")
    if isinstance(best, dict) and isinstance(best.get("value"), (int, float)) and isinstance(best.get("metric"), str):
        newest = run_checkpoints(run)
        also = f"; the newest checkpoint is step {header_meta(newest[-1]).get('step')}" if newest else ""
        note(f"using {kept}: step {best.get('step')}, the best by {metric_name(best['metric'], best.get('features'))} "
             f"{best['value']:.4g} of the run's evaluations{also}")
