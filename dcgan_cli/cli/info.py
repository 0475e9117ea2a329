"""`dcgan info`: what a checkpoint holds."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import Ckpt
from .console import emit

AsJson = Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")]


def info(ckpt: Ckpt = None, as_json: AsJson = False):
    """Show what a checkpoint holds: model, training settings, data set, progress."""
    from ..core.info import info as describe

    emit(describe(ckpt), as_json=as_json)
