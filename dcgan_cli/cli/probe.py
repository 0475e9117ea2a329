"""`dcgan probe`: the paper's linear probe of D's features."""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.defaults import LABELS_PER_CLASS, PROBE_TEST_N
from ..core.files import check_file_target
from .common import Cache, Ckpt, Dataset, Device, Root, device, json_option, say_which_checkpoint, seed_option
from .console import emit, progress

ProbeDataset = Annotated[Dataset | None, typer.Option(
    help="Probe on this data set (default: the one the checkpoint was trained on).", show_default=False)]
Target = Annotated[str | None, typer.Option(
    help="What to classify: a label of a class group (its group) or a binary attribute (default: the first group, e.g. "
    "the digit).", show_default=False)]
LabelsPerClass = Annotated[int, typer.Option(help="Labelled training images per class; 0: all of them.")]
Repeats = Annotated[int, typer.Option(help="Draws of the labelled images (mean and spread reported).")]
TestN = Annotated[int, typer.Option("--test-n", help="Test images at most (a fixed random subset).")]
JsonPath = json_option("Write the figures and their protocol as JSON.")
Seed = seed_option("Seed for the labelled draws, the split and the random D.")


def probe(
    ckpt: Ckpt = None, dataset: ProbeDataset = None, target: Target = None, labels_per_class: LabelsPerClass = LABELS_PER_CLASS,
    repeats: Repeats = 1, test_n: TestN = PROBE_TEST_N, json_path: JsonPath = None, seed: Seed = 0, data_root: Root = None,
    cache_dir: Cache = None, device_name: Device = "auto",
):
    """Is D a good representation? The paper's linear probe of D's features, against pixels and a random D.
    Example: dcgan probe runs/mnist --labels-per-class 100"""
    say_which_checkpoint(ckpt)
    from ..analyses.probe import probe as run_probe

    check_file_target(json_path, "--json")
    with progress("probing") as bar:
        result = run_probe(ckpt, dataset=dataset, data_root=data_root, cache_dir=cache_dir, target=target,
                           labels_per_class=labels_per_class or None, repeats=repeats, test_n=test_n, seed=seed,
                           device=device(device_name), on_progress=bar)
    emit(result, json_path=json_path)
