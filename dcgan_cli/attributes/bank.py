"""The labelled sample bank: a checkpoint's generated samples, each labelled by the data set's classifier.

Arithmetic finds concept vectors in it, ablate finds the maps that draw a concept, and the z
probe measures what z holds linearly. It belongs to one checkpoint (and generator: G or EMA),
so it is cached in that run's concepts/ folder; the classifier that labels it belongs to the
data set and is cached with the data (classifier.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import bundled
from ..core.checkpoint import Checkpoint
from ..core.errors import DcganError, UsageError
from ..core.generation import BATCH, generate
from ..core.model import sample_z
from ..core.progress import Progress, phase
from ..core.runs import CONCEPTS, RunFolder
from ..core.tensor_cache import read_cached, write_cached
from ..data import ImageData
from .classifier import MAX_IMAGES, AttributeModel, dataset_classifier, training_label

MIN_SAMPLES, MAX_SAMPLES = 16, 1_000_000


@dataclass
class SampleBank:
    """z (M, nz) of generated samples and the classifier's label probabilities for them (M, A)."""

    z: torch.Tensor
    probs: torch.Tensor
    classifier: AttributeModel
    path: Path


def check_labels(ckpt: Checkpoint, data: ImageData) -> None:
    """The data must be labelled, with the labels the checkpoint records."""
    label_names = ckpt.dataset.label_names or []
    if not label_names or data.labels is None:
        raise UsageError("this data set has no labels; define concepts from seeds with --define 'phrase=12,45,77'")
    if data.label_names != label_names:
        raise DcganError(f"the data in {data.cache_dir} has other labels than the checkpoint records; "
                         "pass the data set it was trained on")


def concepts_file(ckpt: Checkpoint, kind: str, *key) -> Path:
    """Where something labelled from this checkpoint's samples is cached: its run's concepts/ folder,
    named by the checkpoint and a digest of what else it depends on (`key`)."""
    ident = [ckpt.path.name, ckpt.step, ckpt.path.stat().st_size, *key]
    digest = hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:12]
    if ckpt.run is not None:
        folder = ckpt.run.concepts
    elif bundled.is_bundled(ckpt.path):  # the package may be read-only: the user's cache
        folder = bundled.work_folder(ckpt.path, CONCEPTS)
    else:
        folder = RunFolder(ckpt.path.parent).concepts
    return folder / f"{ckpt.path.stem}-{kind}-{digest}.safetensors"


def bank_path(ckpt: Checkpoint, classifier_key: str, n: int, seed: int, uses_ema: bool) -> Path:
    return concepts_file(ckpt, "bank", classifier_key, n, seed, uses_ema)


def sample_bank(ckpt: Checkpoint, data: ImageData, *, n: int = 4096, seed: int = 0, attr_images: int = MAX_IMAGES,
                device: torch.device | str = "cpu", ema: bool | None = None,
                on_progress: Progress | None = None, early: Callable[[torch.Tensor], None] | None = None) -> SampleBank:
    """The cached bank for (checkpoint, generator, classifier, n, seed), or a new one. A new one is
    labelled in two halves, and `early(probs of the first half)` may raise to stop after the first:
    a phrase no sample of it shows is said then, not after the whole bank."""
    if not MIN_SAMPLES <= n <= MAX_SAMPLES:
        raise UsageError(f"--samples must be {MIN_SAMPLES} to {MAX_SAMPLES:,}, got {n}")
    check_labels(ckpt, data)

    def report(what: str):
        return phase(on_progress, what)

    classifier = dataset_classifier(data, max_images=attr_images, device=device,
                                    on_progress=report(training_label(data, attr_images)))
    uses_ema = ema is not False and ckpt.has_ema
    path = bank_path(ckpt, classifier.key, n, seed, uses_ema)
    shapes = {"z": (n, ckpt.model_config.nz), "probs": (n, len(data.label_names))}
    cached = read_cached(path, lambda t, meta: {k: tuple(v.shape) for k, v in t.items()} == shapes)
    if cached is not None:
        return SampleBank(cached[0]["z"], cached[0]["probs"], classifier, path)
    z = sample_z(ckpt.model_config, n, torch.Generator().manual_seed(seed))
    G = ckpt.generator(device, ema=ema)
    said = report(f"labelling {n:,} generated samples, once per checkpoint (then cached)")
    half = (n // 2) // BATCH * BATCH or n  # the halves split on G's batches: the same pictures as in one go
    parts = []
    for lo, hi in ((0, half), (half, n)) if half < n else ((0, n),):
        step = None if said is None else (lambda done, total, _lo=lo: said(_lo + done, n))
        parts.append(classifier.predict(generate(G, z[lo:hi], on_progress=step)))
        if early is not None and hi < n:
            early(parts[0])
    probs = torch.cat(parts)
    write_cached(path, {"z": z, "probs": probs}, {"classifier": classifier.key, "checkpoint": str(ckpt.path)}, what="sample bank")
    return SampleBank(z, probs, classifier, path)
