"""dcgan-cli: train Deep Convolutional GANs and explore what they learned.

The Python API, the same functions the `dcgan` commands call:

    import dcgan_cli as dc
    plan = dc.plan_run(dataset="shapes", train={"max_steps": 200}, out="runs/api")
    dc.train(plan, device="cpu")
    images = dc.sample("runs/api", seeds=range(16))          # (16, 3, 32, 32) in [-1, 1]

Names are imported on first use, so `import dcgan_cli` (and `dcgan --help`) loads no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that holds it
_API = {
    "ModelConfig": "configs", "TrainConfig": "configs", "PRESETS": "configs", "build_configs": "configs",
    "Checkpoint": "checkpoint", "load_checkpoint": "checkpoint",
    "Generator": "model", "Discriminator": "model", "sample_z": "model", "z_from_seeds": "model",
    "plan_run": "training.plan", "RunPlan": "training.plan", "train": "training.plan",
    "fit": "training.loop", "TrainResult": "training.loop",
    "load_data": "data.cache", "checkpoint_data": "data.locate", "ImageData": "data.cache",
    "parse_seeds": "analysis.sample",
    "interpolate": "analysis.latent", "Interpolation": "analysis.latent",
    "ArithmeticResult": "analysis.arithmetic",
    "SearchResult": "analysis.nn_search",
    "evaluate": "evaluation.evaluate", "EvalResult": "evaluation.evaluate",
    "plot_run": "training.plots",
    "RunFolder": "runs",
    "DcganError": "errors", "UsageError": "errors",
    "select_device": "device",
    "save_grid": "images", "save_gif": "images",
}
# public name -> (module, attribute) where the name differs
_RENAMED = {
    "sample": ("analysis.sample", "sample"),
    "arithmetic": ("analysis.arithmetic", "run"),
    "arithmetic_figure": ("analysis.arithmetic", "figure"),
    "nn_search": ("analysis.nn_search", "search"),
}

__all__ = ["__version__", *sorted(_API), *sorted(_RENAMED)]


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name], name
    elif name in _RENAMED:
        module, attr = _RENAMED[name]
    else:
        raise AttributeError(f"module 'dcgan_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from .analysis.arithmetic import ArithmeticResult
    from .analysis.arithmetic import figure as arithmetic_figure
    from .analysis.arithmetic import run as arithmetic
    from .analysis.latent import Interpolation, interpolate
    from .analysis.nn_search import SearchResult
    from .analysis.nn_search import search as nn_search
    from .analysis.sample import parse_seeds, sample
    from .evaluation.evaluate import EvalResult, evaluate
    from .training.plots import plot_run
    from .checkpoint import Checkpoint, load_checkpoint
    from .configs import PRESETS, ModelConfig, TrainConfig, build_configs
    from .data.cache import ImageData, load_data
    from .data.locate import checkpoint_data
    from .device import select_device
    from .errors import DcganError, UsageError
    from .images import save_gif, save_grid
    from .model import Discriminator, Generator, sample_z, z_from_seeds
    from .runs import RunFolder
    from .training.loop import TrainResult, fit
    from .training.plan import RunPlan, plan_run, train
