"""The Python API returns exactly what the CLI prints and writes: one result object per command.

For each command the library call the CLI makes is made directly; its `lines()` must be the
CLI's stdout (less the closing "wrote ..." line), its `to_dict()` the JSON the CLI wrote, and its
picture the CLI's picture, pixel for pixel.
"""

import json
import re

import numpy as np
import pytest
from PIL import Image

import dcgan_cli as dc
from dcgan_cli.core.results import Result, shown
from dcgan_cli.latent.interpolate import seed_rows

from .conftest import TINY, invoke


def _lines(r) -> list[str]:
    """The CLI's stdout lines, less the closing 'wrote ...' line, which names where files went."""
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    return out[:-1] if out and out[-1].startswith("wrote ") else out


def _same_picture(a, b) -> None:
    assert np.array_equal(np.asarray(Image.open(a).convert("RGB")), np.asarray(Image.open(b).convert("RGB")))


def _check(r, result: Result, tmp_path, picture: bool = True, report: bool = True) -> None:
    assert isinstance(result, Result)
    assert _lines(r) == result.lines()
    written = result.write(tmp_path / "api.png" if picture else None, tmp_path / "api.json" if report else None)
    if picture:
        _same_picture(tmp_path / "cli.png", tmp_path / "api.png")
        assert tmp_path / "api.png" in written
    if report:
        assert json.loads((tmp_path / "cli.json").read_text()) == json.loads((tmp_path / "api.json").read_text())


def test_sample(tiny_run, runner, tmp_path):
    r = invoke(runner, "sample", tiny_run, "--seeds", "0-5", "--out", tmp_path / "cli.png", "--device", "cpu")
    _check(r, dc.sample(tiny_run, list(range(6))), tmp_path, report=False)


def test_interpolate(tiny_run, runner, tmp_path):
    r = invoke(runner, "interpolate", tiny_run, "--steps", "5", "--rows", "2", "--out", tmp_path / "cli.png",
               "--gif", tmp_path / "cli.gif", "--device", "cpu")
    result = dc.interpolate(tiny_run, pairs=seed_rows(0, 1, 2), steps=5, gif=tmp_path / "api.gif")
    _check(r, result, tmp_path, report=False)
    assert Image.open(tmp_path / "api.gif").n_frames == Image.open(tmp_path / "cli.gif").n_frames == 5 + 3


def test_project(tiny_run, runner, tmp_path):
    picture = tmp_path / "a.png"
    dc.sample(tiny_run, [9]).write(picture)
    r = invoke(runner, "project", tiny_run, picture, "--steps", "20", "--out", tmp_path / "cli", "--device", "cpu")
    result = dc.project(tiny_run, [picture], steps=20)
    assert _lines(r)[1:] == result.lines()[1:]  # the first line also says how long it took
    result.write(tmp_path / "api")
    _same_picture(tmp_path / "cli" / "projection.png", tmp_path / "api" / "projection.png")
    cli, api = (json.loads((tmp_path / d / "projection.json").read_text()) for d in ("cli", "api"))
    timing = ("seconds", "seconds_per_image")
    assert {k: v for k, v in cli.items() if k not in timing} == {k: v for k, v in api.items() if k not in timing}


def test_info(tiny_run, runner):
    assert json.loads(invoke(runner, "info", tiny_run, "--json").stdout) == dc.info(tiny_run).to_dict()
    assert _lines(invoke(runner, "info", tiny_run)) == dc.info(tiny_run).lines()


def test_nn_search(tiny_run, runner, tmp_path):
    r = invoke(runner, "nn-search", tiny_run, "--n", "2", "--k", "3", "--holdout", "16", "--out", tmp_path / "cli.png",
               "--json", tmp_path / "cli.json", "--device", "cpu")
    _check(r, dc.nn_search(tiny_run, [0, 1], k=3, holdout=16), tmp_path)


def test_arithmetic_and_its_probe(concept_run, runner, tmp_path):
    dc.z_separability(concept_run, samples=1024)  # the classifier and bank exist: both calls below reuse them
    args = ("--samples", "1024", "--variants", "3", "--method", "paper", "--probe")
    r = invoke(runner, "arithmetic", concept_run, "red circle - circle + square", *args, "--out", tmp_path / "cli.png",
               "--json", tmp_path / "cli.json", "--device", "cpu")
    result = dc.arithmetic(concept_run, "red circle - circle + square", samples=1024, variants=3, method="paper", probe=True)
    _check(r, result, tmp_path)
    r = invoke(
        runner, "arithmetic", concept_run, "--probe", "--samples", "1024", "--json", tmp_path / "cli.json", "--device", "cpu"
    )
    _check(r, dc.z_separability(concept_run, samples=1024), tmp_path, picture=False)


def test_evaluate(tiny_run, runner, tmp_path, shapes_classifier):
    r = invoke(runner, "evaluate", tiny_run, "--n", "64", "--json", tmp_path / "cli.json", "--device", "cpu")
    _check(r, dc.evaluate(tiny_run, n=64), tmp_path, picture=False)


def test_probe(tiny_run, runner, tmp_path):
    r = invoke(runner, "probe", tiny_run, "--target", "red", "--labels-per-class", "10", "--test-n", "60",
               "--json", tmp_path / "cli.json", "--device", "cpu")
    _check(r, dc.probe(tiny_run, target="red", labels_per_class=10, test_n=60), tmp_path, picture=False)


def test_ablate(concept_run, runner, tmp_path):
    r = invoke(runner, "ablate", concept_run, "--concept", "blue", "--bank", "512", "--seeds", "0-3", "--out",
               tmp_path / "cli.png", "--json", tmp_path / "cli.json", "--device", "cpu")
    _check(r, dc.ablate(concept_run, "blue", n=512, seeds=[0, 1, 2, 3]), tmp_path)


def test_explain(tiny_run, runner, tmp_path):
    r = invoke(runner, "explain", tiny_run, "--n", "32", "--features", "2", "--per", "3", "--out", tmp_path / "cli.png",
               "--json", tmp_path / "cli.json", "--device", "cpu")
    _check(r, dc.explain(tiny_run, n=32, features=2, per=3), tmp_path)


def test_plot_and_data_info(tiny_run, runner):
    assert _lines(invoke(runner, "plot", tiny_run)) == dc.plot(tiny_run).lines()
    from dcgan_cli.data.listing import cache_listing

    assert _lines(invoke(runner, "data", "info")) == cache_listing().lines()
    assert json.loads(invoke(runner, "data", "info", "--json").stdout) == cache_listing().to_dict()


def test_train(runner, tmp_path):
    args = ["--dataset", "shapes", "--max-steps", "4", "--limit", "128", *TINY]
    r = invoke(runner, "train", *args, "--out", tmp_path / "cli")
    plan = dc.plan_run(dataset="shapes", out=tmp_path / "api", train={"max_steps": 4, "limit": 128, "batch_size": 32},
                       model={"ngf": 8, "ndf": 8})
    result = dc.train(plan, device="cpu")
    def same(line: str, run: str) -> str:  # the run folder and this session's timing differ between the two runs
        return re.sub(r"[\d.]+ s at [\d,]+ img/s", "TIME", line.replace(run, "RUN"))

    assert [same(line, str(tmp_path / "cli")) for line in _lines(r)] == [
        same(line, str(tmp_path / "api")) for line in result.lines()
    ]
    assert result.pictures and all(p.exists() for p in result.pictures.values())  # the library run draws them, not the CLI


def test_terminal_text_from_files_is_shown_escaped():
    assert shown("run\x1b]0;pwned\x07\nfake line") == "run\\x1b]0;pwned\\x07\\nfake line"
    assert shown("[bold]x.png") == "[bold]x.png"  # rich markup stays literal: lines are printed with markup off


@pytest.mark.parametrize("name", ["sample", "interpolate", "arithmetic", "nn_search", "evaluate", "probe", "ablate", "explain",
                                  "info", "plot", "train"])
def test_every_command_function_is_exported(name):
    assert callable(getattr(dc, name))
