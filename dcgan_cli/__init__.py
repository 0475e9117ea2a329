"""dcgan-cli: train Deep Convolutional GANs and explore what they learned.

The Python API, the same functions the `dcgan` commands call:

    import dcgan_cli as dc
    plan = dc.plan_run(dataset="shapes", train={"max_steps": 200}, out="runs/api")
    dc.train(plan, device="cpu")
    images = dc.sample("runs/api", seeds=range(16)).images()  # (16, 3, 32, 32) in [-1, 1]

Every command's function returns one result object: `to_dict()` is its JSON, `lines()` its
terminal text, `figure()` its picture and `write(out)` writes what `dcgan COMMAND` writes.
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
    "parse_seeds": "seeds", "Result": "results",
    "Samples": "analysis.sample",
    "interpolate": "analysis.latent", "Interpolation": "analysis.latent",
    "ArithmeticResult": "analysis.arithmetic", "parse_define": "analysis.arithmetic",
    "SearchResult": "analysis.nn_search",
    "ProjectionResult": "analysis.project", "load_latents": "latents", "save_latents": "latents",
    "evaluate": "evaluation.evaluate", "EvalResult": "evaluation.evaluate",
    "ProbeResult": "analysis.probe", "AblateResult": "analysis.ablate", "Explanation": "analysis.explain",
    "Separability": "analysis.separability", "CheckpointInfo": "info", "checkpoint_info": "info",
    "plot_run": "training.plots", "Pictures": "training.plots",
    "dataset_classifier": "classifier", "sample_bank": "bank",
    "RunFolder": "runs",
    "DcganError": "errors", "UsageError": "errors",
    "select_device": "device",
    "save_grid": "images", "save_gif": "images",
}
# public name -> (module, attribute) where the name differs
_RENAMED = {
    "sample": ("analysis.sample", "sample"),
    "arithmetic": ("analysis.arithmetic", "arithmetic"),
    "nn_search": ("analysis.nn_search", "search"),
    "project": ("analysis.project", "project_images"),
    "probe": ("analysis.probe", "probe_checkpoint"),
    "ablate": ("analysis.ablate", "ablate"),
    "explain": ("analysis.explain", "explain_checkpoint"),
    "z_separability": ("analysis.separability", "z_separability"),
    "plot": ("training.plots", "plot_checkpoint_run"),
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
    from .arithmetic.entry import ArithmeticResult, arithmetic, parse_define
    from .arithmetic.separability import Separability, z_separability
    from .attributes.bank import sample_bank
    from .attributes.classifier import dataset_classifier
    from .core.checkpoint import Checkpoint, load_checkpoint
    from .core.configs import PRESETS, ModelConfig, TrainConfig, build_configs
    from .core.device import select_device
    from .core.errors import DcganError, UsageError
    from .core.images import save_gif, save_grid
    from .core.info import CheckpointInfo, checkpoint_info
    from .core.model import Discriminator, Generator, sample_z, z_from_seeds
    from .core.results import Result
    from .core.runs import RunFolder
    from .core.seeds import parse_seeds
    from .data.cache import ImageData, load_data
    from .data.locate import checkpoint_data
    from .evaluation.evaluate import EvalResult, evaluate
    from .latent.interpolate import Interpolation, interpolate
    from .latent.sample import Samples, sample
    from .paper.ablate import AblateResult, ablate
    from .paper.explain import Explanation
    from .paper.explain import explain_checkpoint as explain
    from .paper.probe import ProbeResult
    from .paper.probe import probe_checkpoint as probe
    from .search.nn_search import SearchResult
    from .search.nn_search import search as nn_search
    from .training.loop import TrainResult, fit
    from .training.plan import RunPlan, plan_run, train
    from .training.plots import Pictures, plot_run
    from .training.plots import plot_checkpoint_run as plot
