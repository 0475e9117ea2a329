"""Arithmetic on CelebA's shape of labels (40 independent attributes, no exclusive groups), every method,
on drawn CelebA files read by the real loader; the results judged by a pixel rule, not a model."""

import json

import pytest
import torch

from dcgan_cli.core.configs import ARITHMETIC_METHODS
from dcgan_cli.vector_arithmetic.arithmetic import arithmetic

from .conftest import invoke
from .drawn_celeba import read_face

PAPER = "smiling woman - woman + man"
pytestmark = pytest.mark.slow  # trains a CelebA-shaped fixture: ~30 s, out of the fast lane


@pytest.mark.parametrize("method", ["guided", "anchored", "boundary"])
def test_the_papers_smiling_man_on_independent_labels(celeba_concept_run, runner, tmp_path, method):
    r = invoke(runner, "arithmetic", celeba_concept_run, PAPER, "--method", method, "--samples", "2048",
               "--json", tmp_path / "a.json", "--out", tmp_path / "a.png", "--device", "cpu")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "a.json").read_text())
    assert all(res["expected"]["Male"] == "Male" and res["expected"]["Smiling"] == "Smiling" for res in rep["results"]), rep
    assert "Male: expected Male" in r.stdout and "Smiling: expected Smiling" in r.stdout
    assert (tmp_path / "a.png").stat().st_size > 0


def test_every_method_moves_what_the_pictures_show(celeba_concept_run):
    """Read by pixels: the results are men, smiling, with the anchor's glasses kept."""
    for method in ARITHMETIC_METHODS:
        if method in ("paper", "mean"):
            continue
        result = arithmetic(celeba_concept_run, "glasses " + PAPER, method=method, samples=2048)
        seen = read_face(result.result_images)
        right = (seen == torch.tensor([1, 1, 1])).all(1)
        assert right.float().mean() >= 2 / 3, (method, seen.tolist())
