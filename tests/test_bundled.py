"""The models that ship inside the package: by name in every command, as they were recorded, never written to."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest
import typer.main

import dcgan_cli as dc
from dcgan_cli import bundled
from dcgan_cli.cli import app
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import MODEL_FIELDS, TRAIN_FIELDS
from dcgan_cli.core.generation import uint8_from_seeds
from dcgan_cli.core.recipes import build_configs
from tests.conftest import SHARED_MNIST, invoke

SHIPPED = ("mnist", "shapes")


def test_the_package_ships_its_models():
    assert set(SHIPPED) <= set(bundled.names())
    total = sum(bundled.path_of(n).stat().st_size for n in bundled.names())
    assert total < 30e6, f"bundled models weigh {total / 1e6:.1f} MB"


@pytest.mark.parametrize("name", SHIPPED)
def test_a_model_opens_by_name_and_by_path_as_the_same_checkpoint(name):
    by_name, by_path = load_checkpoint(name), load_checkpoint(bundled.path_of(name))
    assert by_name.path == by_path.path == bundled.path_of(name)
    assert by_name.meta == by_path.meta
    assert not any(k.startswith(("opt_", "rng")) for k in by_name.tensors)  # a model handed out, not a resumable run
    made = by_name.meta["provenance"]
    for key in ("command", "commit", "torch", "device", "cpu_flags", "images_seen", "train_seconds", "quality", "seed", "data"):
        assert made.get(key) not in (None, ""), key
    assert made["images_seen"] == by_name.step * by_name.train_config.batch_size


@pytest.mark.parametrize("name", SHIPPED)
def test_the_recorded_command_parses_back_to_the_stored_config(name):
    c = load_checkpoint(name)
    argv = shlex.split(c.meta["provenance"]["command"])
    assert argv[:2] == ["dcgan", "train"]
    params = typer.main.get_command(app).commands["train"].make_context("train", argv[2:]).params
    model, train = build_configs(params["dataset"], preset=params["preset"], recipe=params["recipe"],
                                 config_file=params["config_file"],
                                 model_overrides={k: v for k, v in params.items() if k in MODEL_FIELDS},
                                 train_overrides={k: v for k, v in params.items() if k in TRAIN_FIELDS and k != "dataset"})
    assert model == c.model_config
    # what the run itself writes into its settings: the precision auto chose, and the features of its measurements
    written = {"precision", "precision_auto", "channels_last", "eval_features"}
    got, stored = train.to_dict(), c.train_config.to_dict()
    assert got["precision"] == stored["precision"] or (got["precision"] == "auto" and stored["precision_auto"])
    assert {k: v for k, v in got.items() if k not in written} == {k: v for k, v in stored.items() if k not in written}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_fixed_seed_draws_what_the_model_drew_when_it_was_shipped(name, runner, isolated):
    c = load_checkpoint(name)
    drawn = c.meta["provenance"]["drawn"]
    assert drawn["seeds"] == "0-15"
    now = uint8_from_seeds(c.generator("cpu"), list(range(16)))
    assert [round(float(a.mean()), 1) for a in now] == pytest.approx(drawn["mean_levels"], abs=0.5)
    again = dc.sample(name, list(range(16))).images()
    assert (dc.sample(name, list(range(16))).images() == again).all()
    r = invoke(runner, "sample", name, "--seeds", "0-15", "--device", "cpu")
    assert r.exit_code == 0, r.output
    written = list((isolated / f"{name}-sample").glob("*.png"))
    assert len(written) == 1, "a bundled model's default output goes to NAME-sample/ in the working folder"


def test_a_word_that_is_no_model_names_the_models(runner):
    r = invoke(runner, "sample", "shapez", "--seeds", "0-3", "--device", "cpu")
    assert r.exit_code == 1
    assert "shapez does not exist" in r.output and "shapes" in r.output and "mnist" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_a_path_that_exists_wins_over_a_name(runner, tiny_run, isolated):
    Path("shapes").mkdir()  # a folder of the same name that holds no run
    r = invoke(runner, "sample", "shapes", "--seeds", "0-3", "--device", "cpu")
    assert r.exit_code == 1 and "holds no checkpoint" in r.output and str(bundled.path_of("shapes")) in r.output
    shutil.rmtree("shapes")
    shutil.copytree(tiny_run, "shapes")  # a run of the same name: it, not the bundled model
    assert load_checkpoint("shapes").path.resolve().is_relative_to(Path("shapes").resolve())
    r = invoke(runner, "sample", "shapes", "--seeds", "0-3", "--device", "cpu")
    assert r.exit_code == 0 and list(Path("shapes/sample").glob("*.png"))


def test_dcgan_models_lists_every_model_with_how_it_was_made(runner):
    r = invoke(runner, "models")
    assert r.exit_code == 0, r.output
    for name in SHIPPED:
        line = next(x for x in r.output.splitlines() if x.startswith(name + " "))
        assert "images" in line and "min" in line and "domain FID" in line
    r = invoke(runner, "info", "mnist")
    assert r.exit_code == 0 and "made by" in r.output and "dcgan train --dataset mnist" in r.output


def test_a_bundled_model_cannot_be_resumed_and_says_how_to_train_one(runner, tmp_path):
    r = invoke(runner, "train", "--resume", "shapes", "--out", tmp_path / "again", "--device", "cpu")
    assert r.exit_code == 2 and "cannot be resumed" in r.output and "dcgan train --dataset shapes" in r.output


@pytest.mark.slow
def test_commands_on_a_bundled_model_write_nothing_inside_the_package(runner, isolated, shapes_classifier, monkeypatch,
                                                                     tmp_path):
    # a read-only copy of the package's models (as root, permissions are not enforced: the listing is compared too)
    models = tmp_path / "site-packages" / "bundled"
    models.mkdir(parents=True)
    shutil.copy2(bundled.path_of("shapes"), models / "shapes.safetensors")
    monkeypatch.setattr(bundled, "MODELS_DIR", models.resolve())
    os.chmod(models, 0o555)
    before = sorted(p.relative_to(models) for p in models.rglob("*"))
    try:
        picture = tmp_path / "mine.png"
        dc.sample("shapes", [5]).write(picture)
        for args in (["sample", "shapes", "--seeds", "0-7"], ["interpolate", "shapes", "--rows", "1", "--steps", "3"],
                     ["arithmetic", "shapes", "red - red + blue", "--samples", "1024", "--method", "mean"],
                     ["project", "shapes", picture, "--steps", "5"], ["nn-search", "shapes", "--n", "2", "--k", "2"]):
            r = invoke(runner, *args, "--device", "cpu")
            assert r.exit_code == 0, (args, r.output)
    finally:
        os.chmod(models, 0o755)
    assert sorted(p.relative_to(models) for p in models.rglob("*")) == before
    made = {p.name for p in isolated.iterdir()}
    assert {"shapes-sample", "shapes-interpolate", "shapes-arithmetic", "shapes-project", "shapes-nn-search"} <= made
    banks = list((Path(os.environ["DCGAN_CACHE"]) / "bundled").glob("shapes-*/concepts/*.safetensors"))
    assert banks, "the labelled bank of a bundled model is cached in the user's cache folder"


def test_a_model_whose_data_is_not_here_says_which_data_root_it_needs(runner):
    r = invoke(runner, "nn-search", "mnist", "--n", "2", "--k", "2", "--device", "cpu")
    assert r.exit_code == 1 and "--data-root" in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="needs ../shared/data/mnist10k (real MNIST digits)")
def test_a_model_finds_its_data_given_the_data_root(runner, isolated):
    r = invoke(runner, "nn-search", "mnist", "--n", "2", "--k", "2", "--data-root", SHARED_MNIST, "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert list((isolated / "mnist-nn-search").glob("*.png"))


def test_the_explorer_opens_a_bundled_model_by_name_and_shows_no_path_of_the_install(tmp_path):
    from dcgan_cli.explore.session import Explorer

    ex = Explorer("shapes", tmp_path / "uploads", device="cpu")
    page = json.dumps(ex.public(ex.overview()))
    assert "shapes.safetensors" in page and str(bundled.MODELS_DIR) not in page
