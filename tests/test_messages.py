"""Tracebacks, terminals and messages: what a user reads when something goes wrong (each test failed on the code
before its fix)."""

import json
import os

import pytest
from PIL import Image

from dcgan_cli.core.checkpoint import load_checkpoint

from .conftest import TINY, forge_checkpoint, invoke, one_line_error


def test_plot_that_cannot_write_fails(tiny_run, runner, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    shutil.rmtree(run / "plots", ignore_errors=True)
    (run / "plots").write_text("a file where the folder goes")
    r = invoke(runner, "plot", run)
    assert r.exit_code == 1 and "FAILED" in r.stdout, r.output


def test_a_damaged_metrics_log_loses_only_its_damaged_lines(tiny_run, runner, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    bad = ['{"step": 11, "loss_d": "low", "loss_g": 1, "d_x": 0.5, "d_g_z": 0.5}', '{"step": 12, "loss_d": 1.0}',
           '{"step": 13, "loss_d": 1e400, "loss_g": 1, "d_x": 0.5, "d_g_z": 0.5}', '{"step": 14, "loss_d": ' + "9" * 5000 + "}",
           '{"step": 15, "x": ' + "[" * 100000 + "]" * 100000 + "}", '{"step": 16, "eval_fid": "NaN"}', "not json"]
    with open(run / "metrics.jsonl", "a") as f:
        f.write("\n".join(bad) + "\n")
    r = invoke(runner, "plot", run)
    assert r.exit_code == 0 and "curves.png" in r.stdout, r.output


def test_decompression_bombs_are_one_line_everywhere(tiny_run, runner, tmp_path, monkeypatch, shapes_classifier):
    import shutil

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    fakes, reals = tmp_path / "fakes", tmp_path / "reals"
    for folder in (fakes, reals):
        folder.mkdir()
        for i in range(4):
            Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(folder / f"{i}.png")
    Image.new("RGB", (300, 300)).save(fakes / "bomb.png")  # 90,000 pixels: over twice the limit
    r = invoke(runner, "evaluate", tiny_run, "--images", fakes, "--n", "8", "--device", "cpu")
    assert r.exit_code == 0 and "1 skipped" in r.stdout, r.output
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    Image.new("RGB", (300, 300)).save(run / "samples" / "step-00000099.png")
    r = invoke(runner, "plot", run)
    assert r.exit_code == 0 and "too large to decode safely" in r.stdout, r.output


def test_strings_from_files_reach_the_terminal_escaped(tiny_run, runner, tmp_path):
    c = load_checkpoint(tiny_run)
    folder = tmp_path / "[/y]" / "checkpoints"
    folder.mkdir(parents=True)
    meta = {
        **c.meta,
        "dataset": {**c.meta["dataset"], "name": "\x1b]0;pwned\x07\x1b[2J",
                    "label_names": ["[bold]red", "line\u2028break\u2029", *c.dataset.label_names[2:]]},
    }
    path = forge_checkpoint(folder / "step-00000016.safetensors", c.tensors, meta)
    r = invoke(runner, "info", path)
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.stdout and "\\x1b]0;pwned\\x07" in r.stdout
    assert "[/y]" in r.stdout and "[bold]red" in r.stdout  # markup stays literal
    assert "\u2028" not in r.stdout and "line\\u2028break\\u2029" in r.stdout


@pytest.mark.parametrize("command", [["probe", "{run}", "--seed", "-1"], ["explain", "{run}", "--seed", str(2**40)],
                                     ["arithmetic", "{run}", "red", "--seed", "-3"]])
def test_seeds_out_of_range_are_one_line(tiny_run, runner, command):
    args = [str(tiny_run) if a == "{run}" else a for a in command]
    one_line_error(invoke(runner, *args, "--device", "cpu"), 2, "--seed must be 0 to")


def test_nan_features_never_reach_scikit_learn():
    import numpy as np

    from dcgan_cli.attributes.linear import linear_probe
    from dcgan_cli.core.errors import DcganError

    x = np.ones((20, 3))
    x[3, 1] = np.nan
    with pytest.raises(DcganError, match="NaN or infinite"):
        linear_probe(x, np.arange(20) % 2, np.ones((4, 3)), np.arange(4) % 2)


def test_an_optimizer_tensor_of_the_wrong_shape_is_refused_on_resume(tiny_run, runner, tmp_path):
    import torch

    c = load_checkpoint(tiny_run)
    key = next(k for k in c.tensors if k.startswith("opt_d/") and k.endswith("exp_avg"))
    path = forge_checkpoint(tmp_path / "x.safetensors", {**c.tensors, key: torch.zeros(3)}, c.meta)
    r = invoke(runner, "train", "--resume", path, "--out", tmp_path / "cont", "--epochs", "3", "--device", "cpu")
    one_line_error(r, 1, f"optimizer tensor {key} has shape (3,)")


def test_compile_without_a_working_compiler_says_so_before_training(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/g++")  # the compiler torch.compile would call, though g++ may be installed
    monkeypatch.setenv("CC", "/nonexistent/gcc")
    r = invoke(
        runner, "train", "--dataset", "shapes", "--max-steps", "1", "--limit", "64", "--compile", *TINY, "--out", tmp_path / "r"
    )
    one_line_error(r, 2, "--compile on the CPU needs a C++ compiler (torch.compile builds its kernels with it) and "
                   "CXX=/nonexistent/g++ is not a working C++ compiler")
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_every_write_stays_under_the_named_cache_folder(runner, tmp_path):
    from .conftest import make_mnist

    root = make_mnist(tmp_path / "m", gz=True, n_train=40)
    outer = tmp_path / "outer"
    r = invoke(
        runner, "data", "prepare", "--dataset", "mnist", "--size", "28", "--data-root", root, "--cache-dir", outer / "inner"
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in outer.iterdir()) == ["inner"]


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["interpolate", "{run}", "--steps", "0"], 2, "--steps must be at least 2 (the two ends), got 0"),
        (["arithmetic", "{run}", "1e308 red"], 2, "the coefficient 1e+308 of 'red' is out of range"),
        (["arithmetic", "{run}", "1000001 red"], 2, "coefficient 1000001 of 'red' is out of range; use numbers up to 1,000,000"),
        (["train", "--ema", "--ema-kimg", "1e6", "--max-steps", "1"], 2, "at most 100000"),
        (["arithmetic", "{run}", "- red + blue"], 2, "put `--` before it"),
        (["arithmetic", "{run}", "a", "--define", "a="], 2, "--define 'a=': no seeds after '='"),
        (["arithmetic", "{run}", "red " * 5000 + "* blue"], 2, "characters ..."),
        (["probe", "{run}", "--test-n", "0"], 2, "--test-n must be at least 1"),
    ],
)
def test_messages_name_the_real_problem(tiny_run, runner, args, code, fragment):
    r = invoke(runner, *[str(tiny_run) if a == "{run}" else a for a in args], "--device", "cpu")
    one_line_error(r, code, fragment)
    assert len(r.output) < 800


def test_symbolic_link_loops_are_called_loops(tiny_run, runner, tmp_path):
    loop = tmp_path / "loop.png"
    os.symlink(loop, loop)
    one_line_error(invoke(runner, "nn-search", tiny_run, "--query", loop, "--device", "cpu"), 2, "symbolic link loop")
    conf = tmp_path / "c.toml"
    os.symlink(conf, conf)
    one_line_error(invoke(runner, "train", "--config", conf, "--out", tmp_path / "r"), 2, "symbolic link loop")


def test_data_info_calls_damaged_what_train_refuses(runner, tmp_path):
    import shutil

    import numpy as np

    from dcgan_cli.data.cache import load_data

    shared = load_data("shapes", 32).cache_dir
    d = shutil.copytree(shared, tmp_path / "c" / shared.name)
    np.save(d / "labels.npy", np.zeros((3, 9), np.uint8))  # the right file, the wrong shape
    r = invoke(runner, "data", "info", "--cache-dir", tmp_path / "c", "--json")
    assert json.loads(r.stdout)[0]["damaged"]


def test_an_abort_says_what_it_leaves(tmp_path):
    import dcgan_cli as dc

    plan = dc.plan_run(dataset="shapes", out=tmp_path / "r", train={"max_steps": 2, "limit": 64, "batch_size": 32})
    assert plan.abort_note() == "aborted without saving; no checkpoint was written yet"


def test_plain_progress_lines_estimate_what_is_left_per_phase(monkeypatch, capsys):
    from dcgan_cli.cli import console

    now = [0.0]
    monkeypatch.setattr(console.time, "perf_counter", lambda: now[0])
    r = console.Reporter(None, "training")
    for t, done, total, phase in [(0, 0, 100, "a"), (10, 25, 100, "a"), (20, 0, 8, "b"), (23, 2, 8, "b")]:
        now[0] = t
        r.update(done, total, phase)
    lines = capsys.readouterr().err.splitlines()
    assert lines[1] == "training: 25/100 (10 s, ~30 s left) a"  # 10 s for a quarter: 30 s for the rest
    assert lines[3] == "training: 2/8 (3 s, ~9 s left) b"  # the new phase's clock, not the first's


def test_a_resumed_run_tells_the_time_left_by_its_own_steps(monkeypatch, capsys):
    """A run resumed at step 7,813 of 31,250: the steps saved before took no time in this process, so
    the time left comes from the steps trained since (it once said ~13 s for half an hour's work)."""
    from dcgan_cli.cli import console

    now = [0.0]
    monkeypatch.setattr(console.time, "perf_counter", lambda: now[0])
    on_step = console.training_reporter(console.Reporter(None, "training"))
    for t, step in ((0.0, 7813), (100.0, 8813), (200.0, 9813)):
        now[0] = t
        on_step({"step": step, "total_steps": 31250, "logged": True, "epoch": 30,
                 "metrics": {"loss_d": 0.4, "loss_g": 2.0, "d_x": 0.9, "d_g_z": 0.1, "img_per_s": 320}})
    lines = capsys.readouterr().err.splitlines()
    assert "~35.7 min left" in lines[-1], lines  # 1,000 steps a 100 s; 21,437 to go


def test_training_lines_keep_one_clock_though_the_losses_change(monkeypatch, capsys):
    """Off a terminal (make, nohup, CI) every training line tells the time left: its changing losses
    are detail, not a new phase that would restart the clock."""
    from dcgan_cli.cli import console

    now = [0.0]
    monkeypatch.setattr(console.time, "perf_counter", lambda: now[0])
    on_step = console.training_reporter(console.Reporter(None, "training"))
    for step in (1, 250, 500):
        now[0] = step / 10
        on_step({"step": step, "total_steps": 1000, "logged": True, "epoch": 1,
                 "metrics": {"loss_d": 0.4 + step / 1e4, "loss_g": 2.0 - step / 1e3, "d_x": 0.9, "d_g_z": 0.1,
                             "img_per_s": 3000}})
    lines = capsys.readouterr().err.splitlines()
    assert "~75 s left" in lines[1] and "~50 s left" in lines[2], lines  # 25 s for a quarter, one clock throughout


def test_a_run_folder_named_with_control_characters_plots_without_printing_them(tiny_run, runner, tmp_path):
    import shutil
    import warnings

    run = tmp_path / "run\x1b]0;pwned\x07"
    shutil.copytree(tiny_run, run)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = invoke(runner, "plot", run)
    assert r.exit_code == 0 and "curves.png" in r.stdout, r.output
    assert "\x1b" not in r.output and not [w for w in caught if "\x1b" in str(w.message) or "\x07" in str(w.message)]
