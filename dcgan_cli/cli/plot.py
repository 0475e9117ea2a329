"""`dcgan plot`: a run's curves, progress GIF and real vs fake."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import Cache, Root
from .console import emit, note

Run = Annotated[Path | None, typer.Argument(
    help="Run folder (or a checkpoint in it); default: the newest run under ./runs.", show_default=False)]


def plot(run: Run = None, data_root: Root = None, cache_dir: Cache = None):
    """Draw a run's curves, its progress GIF and real vs fake, into RUN/plots/. Example: dcgan plot runs/demo"""
    from ..training.plots import plot as draw

    pictures = draw(run, data_root=data_root, cache_dir=cache_dir)
    for line in pictures.notes:
        note(f"note: {line}")
    emit(pictures)
