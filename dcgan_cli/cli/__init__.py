"""The `dcgan` command line: one module per command, each owning its flags, registered here.

Each command parses its options, calls one library function and shows its result with `emit`.
Errors the user can fix arrive as DcganError and leave as one line on stderr with exit code 2
(usage) or 1 (failure); so do Typer's own usage errors (console.py). Nothing heavier than Typer
is imported until a command runs, so `--help` starts in a fraction of a second.

Conventions shared by every command:
- the checkpoint (a .safetensors file, a run folder or a bundled model's name: `dcgan models`) is
  the first argument; with none, the newest run under ./runs;
- `--seeds 0-63` or `--seeds 3,7,9` names the samples; `--n N` is short for seeds 0..N-1;
- with no `--out`, outputs go into the run folder, `RUN/<command>/step-N-<parameters>.png`.

A new command: a module here with one function of the command's name, added to COMMANDS.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from . import data
from .console import OneLineErrors, cli_errors, note

# module (and function) name, in the order --help lists them; the command is the name with '-' for '_'
COMMANDS = ("train", "models", "sample", "info", "interpolate", "arithmetic", "nn_search", "project", "plot", "evaluate", "probe",
            "ablate", "explain", "explore")

app = typer.Typer(
    cls=OneLineErrors,
    name="dcgan",
    help="Train Deep Convolutional GANs (Radford et al., 2015) and explore what they learned.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
# `dcgan --help` groups the commands by what a user is doing, in the order of first use
PANELS = {"train": "Train", "models": "Train", "info": "Train", "sample": "Draw", "interpolate": "Draw", "project": "Draw",
          "arithmetic": "Analyse", "nn_search": "Analyse", "evaluate": "Analyse", "plot": "Analyse",
          "probe": "The paper's analyses", "ablate": "The paper's analyses", "explain": "The paper's analyses",
          "explore": "Explore"}
for _name in COMMANDS:
    _command = getattr(importlib.import_module(f".{_name}", __name__), _name)
    app.command(_name.replace("_", "-"), rich_help_panel=PANELS[_name])(cli_errors(_command))
app.add_typer(data.app, name="data", rich_help_panel="Train")


def _show_version(value: bool) -> None:
    if value:
        from ..core.version import VERSION

        print(f"dcgan-cli {VERSION}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True,
                                               help="Show the version.")] = False):
    """Train Deep Convolutional GANs and explore what they learned."""


def main() -> None:
    try:
        app(prog_name="dcgan")
    except KeyboardInterrupt:
        note("aborted")
        sys.exit(130)


if __name__ == "__main__":
    main()
