"""dcgan probe: the paper's linear probe of D's features, with its controls."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from dcgan_cli.analyses.probe import d_representation, pick_labelled
from dcgan_cli.attributes.linear import linear_probe
from dcgan_cli.core.configs import PRESETS
from dcgan_cli.core.errors import DcganError
from dcgan_cli.core.model import Discriminator, ModelConfig

from .conftest import invoke


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_features_are_every_block_pooled_to_4x4(preset):
    cfg = ModelConfig(**(PRESETS[preset] | {"ngf": 4, "ndf": 4}))
    D = Discriminator(cfg)
    images = np.random.default_rng(0).integers(0, 256, (3, cfg.nc, cfg.size, cfg.size), dtype=np.uint8)
    maps = D.eval().feature_maps(torch.zeros(1, cfg.nc, cfg.size, cfg.size))
    assert len(maps) == cfg.n_up and [m.shape[1] for m in maps] == [4 * 2**i for i in range(cfg.n_up)]
    assert maps[-1].shape[-1] == cfg.base  # the last map is what D's head reads
    f = d_representation(D, images)
    assert f.shape == (3, sum(4 * 2**i for i in range(cfg.n_up)) * 16) and f.dtype == np.float32


def test_linearly_separable_features_probe_near_perfect_and_noise_near_chance():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 50)) * 3
    y = rng.integers(0, 4, 800)
    x = centres[y] + rng.normal(size=(800, 50))
    acc, c = linear_probe(x[:400], y[:400], x[400:], y[400:])
    assert acc > 0.97
    noise, _ = linear_probe(rng.normal(size=(400, 50)), y[:400], rng.normal(size=(400, 50)), y[400:])
    assert noise < 0.45  # chance is 0.25


def test_labelled_draws_take_n_per_class_and_differ_by_seed():
    y = np.repeat(np.arange(3), [50, 5, 40])
    idx = pick_labelled(y, 10, 0)
    assert np.bincount(y[idx]).tolist() == [10, 5, 10]  # a class with fewer gives all it has
    assert not np.array_equal(idx, pick_labelled(y, 10, 1))
    assert len(pick_labelled(y, None, 0)) == len(y)


def test_probe_command_reports_trained_random_and_pixels(tiny_run, runner, tmp_path):
    r = invoke(runner, "probe", tiny_run, "--labels-per-class", "10", "--repeats", "2", "--test-n", "150",
               "--json", tmp_path / "p.json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "trained D" in r.output and "random D" in r.output and "pixels" in r.output
    out = json.loads((tmp_path / "p.json").read_text())
    assert [row["representation"] for row in out["rows"]] == ["trained D", "random D", "pixels"]
    assert out["n_test"] == 150 and out["n_train"] == 10 * len(out["classes"])
    for row in out["rows"]:
        assert len(row["accuracies"]) == 2 and all(0 <= a <= 1 for a in row["accuracies"])
    assert out["rows"][2]["dim"] == 3 * 32 * 32


def test_every_phase_of_the_probe_names_itself_and_its_unit(tiny_run):
    """The probe was silent for six minutes between "1/6" and "2/6": each fit is now heard, under its own name."""
    from dcgan_cli.analyses.probe import probe

    heard = []
    probe(tiny_run, labels_per_class=10, test_n=100, on_progress=lambda done, total, what="": heard.append((done, total, what)))
    phases = list(dict.fromkeys(what for _, _, what in heard))
    assert "images: features (trained D) of the labelled images" in phases
    assert "fits: a linear probe on 3,072 features (pixels)" in phases, phases
    fits = [(d, t) for d, t, what in heard if what.startswith("fits:") and what.endswith("(trained D)")]
    assert fits[0][0] == 0 and fits[-1][0] == fits[-1][1]  # said before the first fit, and at the end


def test_probe_errors_are_one_line(tiny_run, runner, monkeypatch):
    r = invoke(runner, "probe", tiny_run, "--target", "hexagon", "--device", "cpu")
    assert r.exit_code == 2 and "--target 'hexagon' is not a label of shapes" in r.output
    r = invoke(runner, "probe", tiny_run, "--repeats", "0", "--device", "cpu")
    assert r.exit_code == 2 and "--repeats" in r.output
    r = invoke(runner, "probe", tiny_run, "--test-n", "0", "--device", "cpu")
    assert r.exit_code == 2 and "--test-n must be at least 1, got 0" in r.output
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(DcganError, match=r"pip install 'dcgan-cli\[probe\]'"):
        linear_probe(np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.zeros((2, 2)), np.array([0, 1]))


@pytest.mark.parametrize("command", ["probe", "evaluate", "nn-search"])
def test_a_report_path_that_cannot_be_written_is_refused_before_the_work(tiny_run, runner, tmp_path, command):
    r = invoke(runner, command, tiny_run, "--json", tmp_path, "--device", "cpu")
    assert r.exit_code == 2 and f"--json {tmp_path} is a folder" in r.output


@pytest.mark.parametrize("trained, control, n_test, verdict", [
    ([0.931, 0.925, 0.935], [0.924, 0.930, 0.918], 1000, "no difference"),  # MNIST's 0.7 points: within chance
    ([0.95, 0.96, 0.955], [0.80, 0.81, 0.79], 1000, "trained D is better"),
    ([0.70, 0.71], [0.90, 0.91], 2000, "trained D is worse"),
])
def test_probe_says_whether_a_gap_is_more_than_chance(trained, control, n_test, verdict):
    from dcgan_cli.analyses.probe import ProbeResult, ProbeRow

    rows = [ProbeRow("trained D", 10, trained, [1.0] * len(trained)), ProbeRow("random D", 10, control, [1.0] * len(control))]
    result = ProbeResult(target="digit", classes=["0", "1"], labels_per_class=10, n_train=20, n_test=n_test, rows=rows)
    (v,) = result.versus()
    assert v["verdict"] == verdict and v["margin"] > 0
    assert any(line.startswith("trained D vs random D:") and line.endswith(verdict) for line in result.lines())
    assert result.to_dict()["versus"][0]["verdict"] == verdict
