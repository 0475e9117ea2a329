"""`dcgan train`: its ~55 flags, in panels by topic, and the command that plans and runs the training.

Each model and schedule setting is declared once, on its config field (core/configs.py `setting`: default,
panel, help, choices); this module makes the command's options from those declarations and adds the
options of the run itself (data set, folders, resume). Every setting's flag defaults to None, "not given":
the data set's preset, the recipe, a --config file and a resumed run's stored settings fill in the rest
(core/recipes.py merges them).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_type_hints

import typer

from ..core.configs import (
    DATA,
    MODEL,
    OUTPUT,
    PANELS,
    PRESETS,
    RECIPE_NAMES,
    SCHEDULE,
    SPEED,
    ModelConfig,
    TrainConfig,
    flag,
    flag_fields,
)
from ..core.recipes import flag_help
from .common import Dataset, Device, device
from .console import emit, follow, note, progress, training_reporter

# The options of the run itself; every model and schedule setting is a flag declared once, on its config field.
RUN_OPTIONS: list[tuple[str, str, object]] = [
    ("dataset", DATA, Annotated[Dataset | None, typer.Option(
        help=f"The data set (default: {TrainConfig.dataset}, built in).", show_default=False, rich_help_panel=DATA)]),
    ("data_root", DATA, Annotated[Path | None, typer.Option(
        help="Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).", show_default=False,
        rich_help_panel=DATA)]),
    ("channels", DATA, Annotated[int | None, typer.Option(
        help="1 (grey) or 3 (colour); default: the data set's.", show_default=False, rich_help_panel=DATA)]),
    ("download", DATA, Annotated[bool, typer.Option(
        help="Download the data set if it is missing (where its host allows).", rich_help_panel=DATA)]),
    ("cache_dir", DATA, Annotated[Path | None, typer.Option(
        help="Decoded-data cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).", show_default=False,
        rich_help_panel=DATA)]),
    ("preset", MODEL, Annotated[Literal[tuple(PRESETS)] | None, typer.Option(  # type: ignore[valid-type]
        help="Named architecture (default: the data set's).", show_default=False, rich_help_panel=MODEL)]),
    ("recipe", SCHEDULE, Annotated[Literal[RECIPE_NAMES] | None, typer.Option(  # type: ignore[valid-type]
        help="default: what measured best per minute for the data set's family (the run's first line says what it is); "
        "paper: Radford et al.'s procedure exactly (every stabiliser off).", show_default=False, rich_help_panel=SCHEDULE)]),
    ("config_file", SCHEDULE, Annotated[Path | None, typer.Option(
        "--config", help="TOML file with \\[model] and \\[train] tables (default: none; flags win over it).",
        show_default=False, rich_help_panel=SCHEDULE)]),
    ("nproc", SPEED, Annotated[int | None, typer.Option(
        help="Train in N data-parallel processes on this machine, torchrun's launcher, one per GPU (default 1).",
        show_default=False, rich_help_panel=SPEED)]),
    ("out", OUTPUT, Annotated[Path | None, typer.Option(
        help="Run folder (default runs/<dataset>-<size>-<time>).", show_default=False, rich_help_panel=OUTPUT)]),
    ("resume", OUTPUT, Annotated[Path | None, typer.Option(
        help="Run folder or checkpoint to continue exactly (default: a new run).", show_default=False,
        rich_help_panel=OUTPUT)]),
]


def _setting_option(f: dataclasses.Field) -> object:
    """A config field's flag: its type (its choices, when it has them), --name or --name/--no-name, panel and help."""
    kind = HINTS[f.name]
    kind = next(a for a in get_args(kind) if a is not type(None)) if get_args(kind) else kind
    if f.metadata["choices"]:
        kind = Literal[f.metadata["choices"]]  # type: ignore[valid-type]
    names = (f"{flag(f.name)}/--no-{f.name.replace('_', '-')}",) if kind is bool else (flag(f.name),)
    return Annotated[kind | None, typer.Option(*names, help=flag_help(f), show_default=False,
                                               rich_help_panel=f.metadata["panel"])]


SETTINGS = [*flag_fields(ModelConfig), *flag_fields(TrainConfig)]
MODEL_FLAGS = {f.name for f in flag_fields(ModelConfig)}
HINTS = {**get_type_hints(ModelConfig), **get_type_hints(TrainConfig)}  # each field's type, read once (no shared names)


def _signature() -> inspect.Signature:
    """The command's parameters: per panel, the run's own options, then the settings declared on the configs."""
    params = []
    for panel in PANELS:
        params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind,
                                     default=False if name == "download" else None)
                   for name, where, kind in RUN_OPTIONS if where == panel]
        params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, annotation=_setting_option(f), default=None)
                   for f in SETTINGS if f.metadata["panel"] == panel]
    params.append(inspect.Parameter("device_name", inspect.Parameter.KEYWORD_ONLY, annotation=Device, default="auto"))
    return inspect.Signature(params)


def train(**given: Any):
    """Train a DCGAN. Example: dcgan train --dataset shapes --max-steps 800 --out runs/demo

    Many GPUs or nodes: torchrun --nproc-per-node N -m dcgan_cli train ... (or --nproc N here)."""
    from ..training import TrainRequest, distributed
    from ..training.session import TrainingSession

    name, nproc = given.pop("device_name"), given.pop("nproc")
    if nproc is not None:
        device(name)  # a device this machine lacks: one line here, not one from every process
        raise typer.Exit(distributed.launch(nproc, sys.argv))
    settings = {f.name: given.pop(f.name) for f in SETTINGS}
    request = TrainRequest(model={k: v for k, v in settings.items() if k in MODEL_FLAGS},
                           train={k: v for k, v in settings.items() if k not in MODEL_FLAGS}, **given)
    with TrainingSession(device(name), on_note=note) as session:
        if not session.world.main:
            follow(session.world.rank)
        with progress("preparing data") as bar:
            session.plan(request, on_progress=bar)
        try:
            with progress("training") as bar:
                result = session.run(on_step=training_reporter(bar))
        except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint of this step
            note(session.abort_note())
            raise typer.Exit(130) from None
        if session.world.main:
            emit(result, to_stderr=result.interrupted)
    raise typer.Exit(result.exit_code)


# Typer reads a command's options from its signature: this one's is built from the declarations above.
train.__signature__ = _signature()  # type: ignore[attr-defined]
train.__annotations__ = {p.name: p.annotation for p in train.__signature__.parameters.values()}  # type: ignore[attr-defined]
