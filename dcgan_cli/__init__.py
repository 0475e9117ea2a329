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

from .core.version import VERSION as __version__

# public name -> the module that holds it, under the same name
_API = {
    "ModelConfig": "core.configs", "TrainConfig": "core.configs", "PRESETS": "core.configs", "build_configs": "core.recipes",
    "Checkpoint": "core.checkpoint", "load_checkpoint": "core.checkpoint",
    "Generator": "core.model", "Discriminator": "core.model", "sample_z": "core.model", "z_from_seeds": "core.model",
    "parse_seeds": "core.seeds", "Result": "core.results", "RunFolder": "core.runs",
    "DcganError": "core.errors", "UsageError": "core.errors", "select_device": "core.device",
    "save_grid": "core.images", "save_gif": "core.images",
    "CheckpointInfo": "core.info", "info": "core.info", "models": "core.info", "ModelList": "core.info",
    "load_data": "data.cache", "checkpoint_data": "data.locate", "ImageData": "data.cache",
    "dataset_classifier": "attributes.classifier", "sample_bank": "attributes.bank",
    "plan_run": "training.plan", "RunPlan": "training.plan", "train": "training.plan", "TrainRequest": "training.request",
    "fit": "training.loop", "TrainResult": "training.result",
    "plot": "training.plots", "Pictures": "training.plots", "plot_run": "training.plots",
    "evaluate": "evaluation.evaluate", "EvalResult": "evaluation.evaluate",
    "sample": "latent.sample", "Samples": "latent.sample",
    "interpolate": "latent.interpolate", "Interpolation": "latent.interpolate",
    "project": "projection.project", "ProjectionResult": "projection.project",
    "load_latents": "projection.zfiles", "save_latents": "projection.zfiles",
    "nn_search": "search.nn_search", "SearchResult": "search.nn_search",
    "arithmetic": "vector_arithmetic.arithmetic", "ArithmeticResult": "vector_arithmetic.result",
    "parse_define": "vector_arithmetic.arithmetic",
    "z_separability": "vector_arithmetic.separability", "Separability": "vector_arithmetic.separability",
    "probe": "analyses.probe", "ProbeResult": "analyses.probe",
    "ablate": "analyses.ablate", "AblateResult": "analyses.ablate",
    "explain": "analyses.explain", "Explanation": "analyses.explain",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'dcgan_cli' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from .analyses.ablate import AblateResult, ablate
    from .analyses.explain import Explanation, explain
    from .analyses.probe import ProbeResult, probe
    from .attributes.bank import sample_bank
    from .attributes.classifier import dataset_classifier
    from .core.checkpoint import Checkpoint, load_checkpoint
    from .core.configs import PRESETS, ModelConfig, TrainConfig
    from .core.device import select_device
    from .core.errors import DcganError, UsageError
    from .core.images import save_gif, save_grid
    from .core.info import CheckpointInfo, ModelList, info, models
    from .core.model import Discriminator, Generator, sample_z, z_from_seeds
    from .core.recipes import build_configs
    from .core.results import Result
    from .core.runs import RunFolder
    from .core.seeds import parse_seeds
    from .data.cache import ImageData, load_data
    from .data.locate import checkpoint_data
    from .evaluation.evaluate import EvalResult, evaluate
    from .latent.interpolate import Interpolation, interpolate
    from .latent.sample import Samples, sample
    from .projection.project import ProjectionResult, project
    from .projection.zfiles import load_latents, save_latents
    from .search.nn_search import SearchResult, nn_search
    from .training.loop import fit
    from .training.plan import RunPlan, plan_run, train
    from .training.plots import Pictures, plot, plot_run
    from .training.request import TrainRequest
    from .training.result import TrainResult
    from .vector_arithmetic.arithmetic import arithmetic, parse_define
    from .vector_arithmetic.result import ArithmeticResult
    from .vector_arithmetic.separability import Separability, z_separability
