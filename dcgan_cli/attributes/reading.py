"""What the data set's attribute classifier reads in generated images: per image, each attribute's
value and its probability. `dcgan sample --read` prints it; the explorer shows it beside a sample.
Also the one way every reader of labels opens them: `labelled_attributes`, with the one error for data whose
labels tell nothing apart."""

from __future__ import annotations

from pathlib import Path

import torch

from ..core.checkpoint import Checkpoint
from ..core.errors import UsageError
from ..core.progress import Progress
from ..data import ImageData, checkpoint_data
from .classifier import dataset_classifier, labels_problem
from .expectations import Attribute, attributes_of

MAX_READ = 4096
Reading = dict[str, tuple[str, float]]  # attribute -> (value seen, its probability)


def labelled_attributes(c: Checkpoint, needs: str, *, data_root: Path | None = None,
                        cache_dir: Path | None = None) -> tuple[ImageData, list[Attribute]]:
    """The training data of the data set `c` was trained on and its attributes, or one UsageError when its labels
    tell nothing apart: "{needs}; celeba has no labels here". `needs` says what asked: "--read needs labels to read"."""
    data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    problem = labels_problem(data)
    if problem is not None:
        raise UsageError(f"{needs}; {data.name} {problem}")
    return data, attributes_of(data.label_names, data.groups)


def read_images(c: Checkpoint, images: torch.Tensor, *, device: torch.device | str = "cpu", data_root: Path | None = None,
                cache_dir: Path | None = None, on_progress: Progress | None = None) -> list[Reading]:
    """One reading per image ([-1, 1]) by the classifier of the data set `c` was trained on (trained once, cached)."""
    data, attrs = labelled_attributes(c, "--read needs labels to read", data_root=data_root, cache_dir=cache_dir)
    model = dataset_classifier(data, device=device, on_progress=on_progress)
    probs = model.predict(images.to(device)).cpu()
    out: list[Reading] = [{} for _ in range(len(images))]
    for attr in attrs:
        vals, p = attr.read(probs)
        for i, (v, q) in enumerate(zip(vals.tolist(), p.tolist())):
            out[i][attr.name] = (attr.values[v], round(q, 3))
    return out


def describe(reading: Reading) -> str:
    """'red (0.99), large (0.97), square (0.91)': every exclusive group's value, and the independent
    labels read as present (CelebA's 40 'not X' would bury the few that are there)."""
    shown = [f"{v} ({p:.2f})" for v, p in reading.values() if not v.startswith("not ")]
    return ", ".join(shown) or "none of its labels"
