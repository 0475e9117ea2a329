"""`dcgan models`: the trained models that ship with the package, usable by name in every command."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import emit

AsJson = Annotated[bool, typer.Option("--json", help="Print the list as JSON.")]


def models(as_json: AsJson = False):
    """List the bundled models (use a name wherever a checkpoint goes: dcgan sample shapes --seeds 0-63)."""
    from ..core.info import models as listing

    emit(listing(), as_json=as_json)
