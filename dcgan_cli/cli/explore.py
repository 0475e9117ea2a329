"""`dcgan explore`: the run in a browser (needs the [explore] extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.defaults import EXPLORE_HOST, EXPLORE_PORT
from .common import Ckpt, Device, device, say_which_checkpoint
from .console import say

Host = Annotated[str, typer.Option(
    help="Address to serve on; the default keeps the page to this machine (reach it from elsewhere through an SSH port "
    "forward).")]
Port = Annotated[int, typer.Option(help="Port to serve on.")]
Browser = Annotated[bool, typer.Option("--browser/--no-browser",
                                       help="Open the page in this machine's browser, where it has one.")]


def explore(ckpt: Ckpt = None, host: Host = EXPLORE_HOST, port: Port = EXPLORE_PORT, browser: Browser = True,
            device_name: Device = "auto"):
    """The run in a browser: samples, sliders, interpolation, arithmetic, your images. Example: dcgan explore runs/demo

    Needs the explorer's extra: pip install 'dcgan-cli\\[explore]' (make demo installs it).
    """
    from ..explore.server import serve

    say_which_checkpoint(ckpt)
    serve(ckpt, host=host, port=port, open_browser=browser, device=device(device_name), say=say)
