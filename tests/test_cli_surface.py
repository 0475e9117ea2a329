"""The command surface: one rule per convention, the same in every command, and a Python API."""

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import dcgan_cli
from dcgan_cli.cli import app as dcgan_app
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.errors import UsageError
from dcgan_cli.core.runs import RunFolder
from dcgan_cli.core.seeds import parse_seeds, resolve_seeds, seeds_label
from dcgan_cli.latent.sample import sample
from dcgan_cli.search.nn_search import nn_search
from dcgan_cli.vector_arithmetic.arithmetic import arithmetic as arithmetic_run

from .conftest import TINY, invoke

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_help_loads_no_torch():
    code = (
        "import sys\n"
        "from dcgan_cli.cli import app\n"
        "for cmd in ([], ['train'], ['sample'], ['interpolate'], ['arithmetic'], ['nn-search'], ['info'], "
        "['evaluate'], ['plot'], ['data', 'prepare'], ['data', 'info']):\n"
        "    try:\n"
        "        app(cmd + ['--help'], prog_name='dcgan')\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (cmd, e.code)\n"
        "import dcgan_cli\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]


def test_help_lists_the_choices(runner):
    r = runner.invoke(dcgan_app, ["train", "--help"], env={"COLUMNS": "240"})
    text = re.sub(r"\s+", "", r.output)
    for choice in ("leaky_relu", "celeba64", "fashion-mnist", "uniform", "pool"):
        assert choice in text
    r = runner.invoke(dcgan_app, ["interpolate", "--help"], env={"COLUMNS": "240"})
    assert "slerp" in r.output and "lerp" in r.output
    r = runner.invoke(dcgan_app, ["explore", "--help"], env={"COLUMNS": "240"})
    assert "pip install 'dcgan-cli[explore]'" in r.output  # the extra it needs, not eaten as markup


COMMAND_NAMES = ["train", "sample", "info", "interpolate", "arithmetic", "nn-search", "project", "plot", "evaluate", "probe",
                 "ablate", "explain", "explore", "data prepare", "data info"]


@pytest.mark.parametrize("command", COMMAND_NAMES)
def test_help_says_what_goes_in_each_flag_and_its_default(runner, command):
    r = runner.invoke(dcgan_app, [*command.split(), "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert not re.search(r"<(bool|int|float|str|path|file|directory)>", r.output), r.output  # Typer's type names
    rows = re.findall(r"│\s+(--[a-z0-9-]+)(?:\s+--no-[a-z0-9-]+)?\s+(\S*)\s+(.*?)\s*│", r.output)
    assert rows, r.output
    metavar = {flag: mv for flag, mv, _ in rows}
    if "--seeds" in metavar:
        assert metavar["--seeds"] == "0-63|3,7,9"
    if "--device" in metavar:
        assert metavar["--device"] == "auto|cpu|cuda[:N]|mps"
    assert metavar.get("--help", "") in ("", "Show")  # a flag has no type


def test_every_option_with_a_value_says_its_default():
    """In --help, each option shows [default: X] or says "default" in its words, or is an output or
    a choice a user makes (--json, --gif, --define...), whose absence is plain."""
    import typer.main

    from dcgan_cli.cli import app

    optional_outputs = {"--json", "--gif", "--individual", "--query", "--define", "--anchor", "--images", "--real",
                        "--through", "--ckpt", "--concept", "--dataset", "--size", "--label", "--from", "--to",
                        "--install-completion", "--show-completion"}
    missing = []

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])
        for p in getattr(cmd, "params", []):
            if p.param_type_name != "option" or set(p.opts) & optional_outputs:
                continue
            shown = p.show_default not in (False, None) and p.default is not None
            if not shown and "default" not in (p.help or "").lower():
                missing.append(f"{' '.join(path)} {p.opts[0]}")

    walk(typer.main.get_command(app), [])
    assert not missing, missing


@pytest.mark.slow
def test_python_api_example_in_the_readme_runs(monkeypatch, tmp_path, shapes_classifier):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["images"].shape == (16, 3, 32, 32)
    fid, floor = scope["quality"].metrics["fid"], scope["quality"].metrics["fid_floor"]
    assert math.isfinite(fid) and fid > floor and scope["quality"].protocol["n_generated"] == 256  # 200 steps: worse than real
    assert (tmp_path / "runs" / "api" / "checkpoints").is_dir()
    assert set(dcgan_cli.__all__) >= {"load_checkpoint", "ModelConfig", "TrainConfig", "train", "sample", "interpolate",
                                      "arithmetic", "nn_search", "plan_run", "evaluate"}


# --- the checkpoint is the first argument, in every command


def test_arithmetic_takes_the_checkpoint_first_or_as_an_option(tiny_run, runner, tmp_path):
    common = ["--define", "a=1,2", "--define", "b=3", "--variants", "1", "--device", "cpu"]
    r1 = invoke(runner, "arithmetic", tiny_run, "a - b", "--out", tmp_path / "1.png", *common)
    r2 = invoke(runner, "arithmetic", "a - b", "--ckpt", tiny_run, "--out", tmp_path / "2.png", *common)
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    assert np.array_equal(np.asarray(Image.open(tmp_path / "1.png")), np.asarray(Image.open(tmp_path / "2.png")))
    r = invoke(runner, "arithmetic", tiny_run, "a - b", "--ckpt", tiny_run, *common)
    assert r.exit_code == 2 and "not both" in r.output
    r = invoke(runner, "arithmetic", tiny_run, "a", "b", *common)
    assert r.exit_code == 2 and "expected [CKPT] EXPRESSION" in r.output


# --- one --n / --seeds rule


@pytest.mark.parametrize("command", ["sample", "nn-search"])
def test_n_and_seeds_follow_one_rule(tiny_run, runner, tmp_path, command):
    r = invoke(runner, command, tiny_run, "--n", "3", "--seeds", "0-2", "--device", "cpu")
    assert r.exit_code == 2 and "give --n or --seeds, not both" in r.output
    r = invoke(runner, command, tiny_run, "--n", "0", "--device", "cpu")
    assert r.exit_code == 2 and "--n must be 1 to" in r.output


def test_seed_parsing_and_labels():
    assert resolve_seeds(3, None, 64) == [0, 1, 2] and resolve_seeds(None, "5,7-8", 64) == [5, 7, 8]
    assert resolve_seeds(None, None, 64) == list(range(64))
    assert seeds_label([0, 1, 2, 3, 10, 12, 13]) == "0-3_10_12-13"
    with pytest.raises(UsageError, match="at most"):
        parse_seeds("0-100000000")
    with pytest.raises(UsageError, match="2\\^63"):
        parse_seeds(str(2**64))


# --- outputs land in the run folder, named by their parameters


def test_outputs_without_out_go_into_the_run_folder(tiny_run, runner, tmp_path):
    (tmp_path / "samples.png").write_bytes(b"mine")  # a file of the user's in the working folder
    run = RunFolder(tiny_run)
    assert invoke(runner, "sample", tiny_run, "--n", "4", "--device", "cpu").exit_code == 0
    assert invoke(runner, "sample", tiny_run, "--seeds", "5,9", "--device", "cpu").exit_code == 0
    assert invoke(runner, "interpolate", tiny_run, "--from", "3", "--to", "8", "--device", "cpu").exit_code == 0
    assert invoke(runner, "nn-search", tiny_run, "--n", "2", "--holdout", "0", "--device", "cpu").exit_code == 0
    names = {p.relative_to(run.path).as_posix() for p in run.path.rglob("*.png") if p.parent.name != "samples"}
    assert {"sample/step-00000016-seeds-0-3.png", "sample/step-00000016-seeds-5_9.png",
            "interpolate/step-00000016-3-8-slerp-9.png", "nn-search/step-00000016-train-seeds-0-1-k5.png"} <= names
    assert (tmp_path / "samples.png").read_bytes() == b"mine" and not (tmp_path / "interp.png").exists()


def test_a_lone_checkpoint_writes_beside_itself(tiny_run, runner, tmp_path):
    lone = tmp_path / "model.safetensors"
    lone.write_bytes(load_checkpoint(tiny_run).path.read_bytes())
    r = invoke(runner, "sample", lone, "--n", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "model-sample" / "step-00000016-seeds-0-1.png").exists()


# --- training: exact step counts, grids by step, one meaning of "epoch", visible progress


def test_max_steps_trains_exactly_that_many(runner, tmp_path):
    r = invoke(runner, "train", "--limit", "256", "--max-steps", "21", "--snap-kimg", "0.256", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    c = load_checkpoint(tmp_path / "r")
    assert c.step == 21 and c.epoch == 2  # 8 steps per epoch: two whole epochs done
    grids = sorted(p.name for p in (tmp_path / "r" / "samples").glob("*.png"))
    assert grids == ["step-00000008.png", "step-00000016.png", "step-00000021.png"]
    lines = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [(m["step"], m["epoch"]) for m in lines if "loss_d" in m] == [(10, 1), (20, 2), (21, 2)]
    assert invoke(runner, "info", tmp_path / "r", "--json").exit_code == 0
    # Both limits: the run says which one ends it.
    r = invoke(runner, "train", "--limit", "256", "--max-steps", "21", "--epochs", "1", "--out", tmp_path / "s", *TINY)
    assert r.exit_code == 0 and "--epochs 1 ends the run at step 8, before --max-steps 21" in r.output
    assert load_checkpoint(tmp_path / "s").step == 8


def test_progress_shows_as_plain_lines_off_a_terminal(runner, tmp_path):
    r = invoke(runner, "train", "--limit", "256", "--max-steps", "12", "--log-every", "4", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    lines = [line for line in r.output.splitlines() if line.startswith("training: ")]
    assert [line.split()[1] for line in lines] == ["4/12", "8/12", "12/12"]
    assert all("loss_d" in line and "img/s" in line for line in lines)
    r = invoke(runner, "sample", tmp_path / "r", "--n", "300", "--device", "cpu")
    assert "generating: 300/300" in r.output


# --- channels from the data


def test_a_folder_of_grey_images_trains_a_grey_model(runner, tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (40, 40), dtype=np.uint8), "L").save(folder / f"{i}.png")
    r = invoke(runner, "train", "--dataset", "folder", "--data-root", folder, "--size", "32", "--max-steps", "1",
               "--out", tmp_path / "g", *TINY)
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "g").model_config.nc == 1
    r = invoke(runner, "train", "--dataset", "folder", "--data-root", folder, "--size", "32", "--channels", "3",
               "--max-steps", "1", "--out", tmp_path / "c", *TINY)
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "c").model_config.nc == 3


def _twelve_pictures(folder):
    """A folder of 12 flat 40 px pictures: fewer than one default batch."""
    folder.mkdir()
    for i in range(12):
        Image.fromarray(np.full((40, 40, 3), i * 20, dtype=np.uint8)).save(folder / f"{i}.png")
    return folder


def test_a_folder_smaller_than_a_batch_is_refused_before_any_image_is_decoded(runner, tmp_path, monkeypatch):
    folder = _twelve_pictures(tmp_path / "few")
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    r = runner.invoke(dcgan_app, ["train", "--dataset", "folder", "--data-root", str(folder), "--size", "32",
                                  "--batch-size", "128", "--out", str(tmp_path / "run")])
    assert r.exit_code == 2, r.output
    assert "holds 12 images, fewer than one batch of 128" in r.output and "--batch-size" in r.output
    assert not any((tmp_path / "cache").glob("folder-*")), "decoded before refusing"


def test_a_folder_smaller_than_the_default_batch_trains_with_a_batch_that_fits(runner, tmp_path, monkeypatch):
    folder = _twelve_pictures(tmp_path / "few")
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path / "cache"))
    r = runner.invoke(dcgan_app, ["train", "--dataset", "folder", "--data-root", str(folder), "--size", "32", "--ngf", "8",
                                  "--ndf", "8", "--max-steps", "2", "--device", "cpu", "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    assert "holds 12 images, fewer than the default batch of 128: training with batch 8" in r.output
    assert load_checkpoint(tmp_path / "run").train_config.batch_size == 8


def test_missing_query_file_says_it_does_not_exist(tiny_run, runner, tmp_path):
    r = invoke(runner, "nn-search", tiny_run, "--query", tmp_path / "nope.png", "--device", "cpu")
    assert r.exit_code == 2 and "--query" in r.output and "does not exist" in r.output


# --- the library entry points the CLI calls


def test_entry_points_agree_with_the_cli(tiny_run, runner, tmp_path):
    c = load_checkpoint(tiny_run)
    images = sample(c, [3, 4]).images()
    assert images.shape == (2, 3, 32, 32) and torch.equal(images[1:], sample(tiny_run, [4]).images())
    result = nn_search(c, [0, 1], k=3, holdout=0)
    assert result.neighbours.indices.shape == (2, 3) and result.memorization is None
    rep = result.to_dict()
    assert [q["seed"] for q in rep["queries"]] == [0, 1] and len(rep["queries"][0]["neighbours"]) == 3
    invoke(runner, "nn-search", tiny_run, "--n", "2", "--k", "3", "--holdout", "0", "--json", tmp_path / "nn.json",
           "--out", tmp_path / "nn.png", "--device", "cpu")
    cli = json.loads((tmp_path / "nn.json").read_text())
    assert [n["index"] for n in cli["queries"][0]["neighbours"]] == result.neighbours.indices[0].tolist()
    a = arithmetic_run(c, "a - b", defines={"a": [1, 2], "b": [3]}, variants=2)  # anchored: one result per seed of "a"
    assert a.result_images.shape == (2, 3, 32, 32) and [t["phrase"] for t in a.to_dict()["terms"]] == ["a", "b"]
    assert torch.allclose(a.plan.result_z, a.plan.anchor_z - a.concepts[1].z)
    a = arithmetic_run(c, "a - b", defines={"a": [1, 2], "b": [3]}, variants=2, method="paper")  # the result, 2 noisy variants
    assert a.result_images.shape == (3, 3, 32, 32)


def test_the_test_split_is_found_from_the_users_own_train_cache(runner, tmp_path):
    from .conftest import make_mnist

    root = make_mnist(tmp_path / "m", n_train=64, n_test=16)
    r = invoke(runner, "train", "--dataset", "mnist", "--data-root", root, "--max-steps", "2", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    # No --data-root: the checkpoint's recorded path is not followed, but the user's own train
    # cache (matched by fingerprint) says where the files are, so the test split can be built.
    r = invoke(runner, "nn-search", tmp_path / "r", "--n", "2", "--k", "1", "--holdout", "8", "--json", tmp_path / "nn.json",
               "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "nn.json").read_text())["memorization"]["count"] == 8


def test_a_train_cache_someone_else_wrote_is_shown_not_followed(runner, tmp_path):
    import os

    from .conftest import make_mnist

    root = make_mnist(tmp_path / "m", n_train=64, n_test=16)
    c = tmp_path / "shared-cache"
    r = invoke(runner, "train", "--dataset", "mnist", "--data-root", root, "--max-steps", "2", "--cache-dir", c,
               "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    train_cache = next(d for d in c.iterdir() if d.name.startswith("mnist-train"))
    for p in (train_cache, train_cache / "manifest.json"):
        os.chown(p, 4242, 4242)  # as if a colleague had prepared it in a shared folder
    args = ["nn-search", tmp_path / "r", "--n", "2", "--k", "1", "--holdout", "8", "--cache-dir", c, "--device", "cpu"]
    r = invoke(runner, *args)
    assert r.exit_code == 1 and "is not yours" in r.output and f"--data-root {root / 'MNIST' / 'raw'}" in r.output, r.output
    assert not any(d.name.startswith("mnist-test") for d in c.iterdir())  # nothing was read from there
    assert invoke(runner, *args, "--data-root", root).exit_code == 0


@pytest.mark.slow
def test_a_reader_that_stops_early_ends_the_command_quietly(tiny_run):
    """`dcgan info RUN --json | head -1`: the closed pipe is no error of ours."""
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", "info", str(tiny_run), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first byte is written
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Broken pipe" not in err and b"Traceback" not in err, err


def test_info_says_how_many_processes_trained_the_checkpoint(tiny_run, runner):
    r = invoke(runner, "info", tiny_run)
    assert r.exit_code == 0 and re.search(r"^processes\s+1$", r.stdout, re.M), r.stdout
    assert json.loads(invoke(runner, "info", tiny_run, "--json").stdout)["processes"] == 1
