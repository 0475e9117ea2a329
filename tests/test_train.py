import json
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import TrainConfig
from dcgan_cli.core.model import ModelConfig
from dcgan_cli.data.shapes import make_shapes
from dcgan_cli.training import NonFiniteLossError
from dcgan_cli.training import fit as train

from .conftest import TINY, invoke, start_training


def test_snapshots_come_by_images_so_a_small_data_set_keeps_a_small_folder(runner, tmp_path):
    """64 images at batch 32 is an epoch of 2 steps: a checkpoint and a grid each epoch once filled a folder with
    hundreds of them. By default an epoch of under 5,000 images snapshots every whole epochs that reach 5,000."""
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "20", "--out", tmp_path / "d", *TINY)
    assert r.exit_code == 0, r.output
    assert [p.name for p in (tmp_path / "d" / "checkpoints").iterdir()] == ["step-00000020.safetensors"]  # the end only
    assert [p.name for p in (tmp_path / "d" / "samples").iterdir()] == ["step-00000020.png"]
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "20", "--snap-kimg", "0.32", "--out", tmp_path / "k", *TINY)
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "k" / "samples").iterdir()) == ["step-00000010.png", "step-00000020.png"]
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "20", "--snap-kimg", "0", "--out", tmp_path / "z", *TINY)
    assert r.exit_code == 2 and "--snap-kimg" in r.output and "above 0" in r.output


def test_train_writes_checkpoint_grid_and_metrics(tiny_run):
    ckpts = sorted((tiny_run / "checkpoints").glob("*.safetensors"))
    assert [p.name for p in ckpts] == ["step-00000008.safetensors", "step-00000016.safetensors"]
    c = load_checkpoint(tiny_run)
    assert c.step == 16 and c.epoch == 2
    assert c.model_config.size == 32 and c.model_config.ngf == 8
    assert c.dataset.name == "shapes" and "circle" in c.dataset.label_names
    grid = Image.open(tiny_run / "samples" / "step-00000016.png")
    assert grid.size == (8 * 34 + 2, 8 * 34 + 2)  # 8x8 images of 32 px with 2 px padding
    lines = [json.loads(rec) for rec in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    losses = [rec for rec in lines if "loss_d" in rec]
    assert [rec["step"] for rec in losses] == [10, 16]
    assert {"loss_d", "loss_g", "d_x", "d_g_z", "img_per_s", "data_wait", "loss_d_min", "loss_g_max"} <= set(losses[0])
    assert all(rec["loss_d_min"] <= rec["loss_d"] <= rec["loss_d_max"] for rec in losses)  # window means, with their range
    assert [rec["step"] for rec in lines if "diversity" in rec] == [8, 16]  # each epoch's grid is checked


def test_sample_grid_and_seed_reproducibility(tiny_run, runner, tmp_path):
    r = invoke(
        runner,
        "sample",
        tiny_run,
        "--seeds",
        "0-15",
        "--out",
        tmp_path / "g.png",
        "--individual",
        tmp_path / "ind",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.output
    w, h = Image.open(tmp_path / "g.png").size
    assert w == 4 * 132 + 4 and h > w  # 32 px tiles enlarged 4x to 128 px, to be seen, each with its seed below
    r = invoke(
        runner,
        "sample",
        tiny_run,
        "--seeds",
        "7",
        "--out",
        tmp_path / "one.png",
        "--individual",
        tmp_path / "alone",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.output
    a = np.asarray(Image.open(tmp_path / "ind" / "seed-7.png"))
    b = np.asarray(Image.open(tmp_path / "alone" / "seed-7.png"))
    assert a.shape == (32, 32, 3) and np.array_equal(a, b)


def test_resume_is_bit_exact(runner, tmp_path):
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ["--dataset", "shapes", "--limit", "128", "--seed", "3", *TINY]
    assert invoke(runner, "train", *common, "--epochs", "2", "--out", straight).exit_code == 0
    assert invoke(runner, "train", *common, "--epochs", "1", "--out", split).exit_code == 0
    r = invoke(runner, "train", "--resume", split, "--epochs", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a.step == b.step == 8
    for name, t in a.tensors.items():
        if not name.startswith("rng/"):
            assert torch.equal(t, b.tensors[name]), name


def test_interrupted_run_resumes_exactly(tmp_path):
    """should_stop mid-epoch (what Ctrl-C sets) saves a checkpoint; resuming matches a straight run."""
    images, _ = make_shapes(96, 32, seed=0)
    mcfg = ModelConfig(size=32, ngf=8, ndf=8)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=1)
    train(mcfg, cfg, images, tmp_path / "a")
    calls = iter(range(100))
    r = train(mcfg, cfg, images, tmp_path / "b", should_stop=lambda: next(calls) == 4)
    assert r.interrupted and r.step == 4
    train(mcfg, cfg, images, tmp_path / "b", resume=load_checkpoint(r.checkpoint))
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert torch.equal(a.tensors["G/main.0.weight"], b.tensors["G/main.0.weight"])
    assert torch.equal(a.tensors["opt_d/0/exp_avg_sq"], b.tensors["opt_d/0/exp_avg_sq"])


@pytest.mark.slow
def test_ctrl_c_saves_and_exits_130(tmp_path):
    run = tmp_path / "run"
    proc = start_training(run, "--dataset", "shapes", "--epochs", "50", "--limit", "512", *TINY)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"resume with: dcgan train --resume {run}" in stderr.replace("\n", "")
    c = load_checkpoint(run)
    assert c.step >= 10


def test_non_finite_loss_stops_with_message(tmp_path):
    images, _ = make_shapes(64, 32, seed=0)
    with pytest.raises(NonFiniteLossError, match="non-finite.*lower --lr"):
        train(ModelConfig(size=32, ngf=8, ndf=8), TrainConfig(epochs=50, batch_size=16, lr=1e38), images, tmp_path / "r")


def test_g_steps_and_uniform_z_train(runner, tmp_path):
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "2", "--g-steps", "2", "--z-dist", "uniform",
               "--downsample", "pool", "--no-batch-norm", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    c = load_checkpoint(tmp_path / "r")
    assert c.model_config.z_dist == "uniform" and not c.model_config.batch_norm
    assert c.train_config.g_steps == 2
    assert float(c.tensors["opt_g/0/step"]) == 4.0  # 2 steps x 2 G updates


def test_toml_config_and_cli_precedence(runner, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[model]\ng_act = "leaky_relu"\nngf = 16\n[train]\nlr = 0.001\nbatch_size = 16\n')
    r = invoke(
        runner,
        "train",
        "--config",
        cfg,
        "--ngf",
        "8",
        "--ndf",
        "8",
        "--limit",
        "32",
        "--max-steps",
        "1",
        "--device",
        "cpu",
        "--out",
        tmp_path / "r",
    )
    assert r.exit_code == 0, r.output
    c = load_checkpoint(tmp_path / "r")
    assert c.model_config.g_act == "leaky_relu" and c.model_config.ngf == 8
    assert c.train_config.lr == 0.001 and c.train_config.batch_size == 16


@pytest.mark.parametrize(
    "args, message",
    [
        (["--size", "48"], "size 48 is not a size the model can make"),
        (["--dataset", "imagenet"], "Invalid value for '--dataset': 'imagenet' is not one of 'shapes'"),
        (["--preset", "huge"], "Invalid value for '--preset': 'huge' is not one of"),
        (["--g-act", "swish"], "Invalid value for '--g-act': 'swish' is not one of 'relu'"),
        (["--nz", "0"], "--nz must be 1 to"),
        (["--z-scale", "1e30"], "--z-scale must be above 0 and at most 100"),
        (["--device", "cuda:7"], "--device cuda:7"),
        (["--device", "tpu"], "is not a device"),
        (["--config", "nope.toml"], "--config nope.toml does not exist"),
        (["--batch-size", "4096", "--limit", "64"], "fewer than one batch"),
    ],
)
def test_bad_train_input_is_one_line_usage_error(runner, args, message):
    r = invoke(runner, "train", "--max-steps", "1", *args)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output and r.output.count("error:") == 1


def test_resume_refuses_changed_settings(tiny_run, runner):
    r = invoke(runner, "train", "--resume", tiny_run, "--lr", "0.1", "--device", "cpu")
    assert r.exit_code == 2 and "cannot change --lr on --resume" in r.output


def test_existing_run_folder_is_not_overwritten(tiny_run, runner):
    r = invoke(runner, "train", "--out", tiny_run, "--max-steps", "1", *TINY)
    assert r.exit_code == 2 and "already holds a run" in r.output


@pytest.mark.slow
def test_bf16_and_compiled_training_run_and_save_plain_weights(tmp_path):
    """bf16 autocast and torch.compile train on the CPU; the checkpoint holds the plain modules'
    weights (no compiler prefixes), so it samples and resumes without either."""
    images, _ = make_shapes(64, 32, seed=0)
    mcfg = ModelConfig(size=32, ngf=8, ndf=8)
    r = train(mcfg, TrainConfig(max_steps=2, batch_size=16, precision="bf16", compile=True, log_every=1), images, tmp_path / "r")
    c = load_checkpoint(r.checkpoint)
    assert c.train_config.precision == "bf16" and c.train_config.compile
    assert set(c.state_dict("G")) == set(c.generator().state_dict()) and all(
        t.dtype == torch.float32 for t in c.state_dict("G").values() if t.is_floating_point()
    )
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines() if "loss_d" in x]
    assert len(lines) == 2 and all(np.isfinite(x["loss_d"]) and np.isfinite(x["loss_g"]) for x in lines)
    more = train(mcfg, TrainConfig(max_steps=3, batch_size=16, precision="bf16", compile=False), images, tmp_path / "r",
                 resume=load_checkpoint(r.checkpoint))
    assert more.step == 3


def test_fp16_needs_cuda_and_bad_precision_is_refused(runner, tmp_path):
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--precision", "fp16", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 2 and "--precision fp16 needs CUDA" in r.output
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--precision", "fp8", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 2 and "fp8" in r.output
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--sync-bn", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 2 and "--sync-bn needs CUDA" in r.output


def test_the_stop_handler_saves_on_the_first_signal_and_aborts_on_the_second():
    """In process: what Ctrl-C and SIGTERM do to a run (the subprocess tests above are marked slow)."""
    import signal

    from dcgan_cli.training.stopping import GracefulStop

    said = []
    stop = GracefulStop(on_note=said.append)
    assert not stop()
    stop.handle(signal.SIGTERM)
    assert stop() and "stopping (SIGTERM): saving a checkpoint" in said[-1]
    with pytest.raises(KeyboardInterrupt):
        stop.handle(signal.SIGINT)
    assert said[-1] == "second interrupt: aborting without saving"
    ranks = GracefulStop(data_parallel=True, on_note=said.append)
    ranks.handle(signal.SIGINT)
    ranks.handle(signal.SIGINT)  # torchrun passes the terminal's Ctrl-C on again: not a second request
    assert ranks() and "Ctrl-C" in said[-1]
    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as installed:
        assert signal.getsignal(signal.SIGTERM) == installed.handle
    assert signal.getsignal(signal.SIGTERM) == before  # not asked: the handlers are put back


def test_a_run_asked_to_stop_saves_and_resumes_exactly(tmp_path):
    """The loop's side of a stop, in process: the checkpoint it writes continues the run bit for bit."""
    import dcgan_cli as dc

    def plan(out, **train):
        return dc.plan_run(dataset="shapes", out=out, train={"max_steps": 6, "limit": 128, "batch_size": 32, **train},
                           model={"ngf": 8, "ndf": 8})

    full = dc.train(plan(tmp_path / "full"), device="cpu")
    calls = []
    stopped = dc.train(plan(tmp_path / "cut"), device="cpu", should_stop=lambda: calls.append(1) or len(calls) > 3)
    assert stopped.interrupted and stopped.step == 3 and "resume with: dcgan train --resume" in stopped.lines()[-1]
    # what was trained is drawn: the grid of the saved step and the plots, as a finished run leaves them
    assert [p.name for p in (tmp_path / "cut" / "samples").iterdir()] == ["step-00000003.png"]
    assert (tmp_path / "cut" / "plots" / "curves.png").is_file() and "pictures: " in stopped.lines()[1]
    resumed = dc.train(dc.plan_run(resume=tmp_path / "cut"), device="cpu")
    a, b = dc.load_checkpoint(full.checkpoint), dc.load_checkpoint(resumed.checkpoint)
    assert resumed.step == full.step == 6 and all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)


@pytest.mark.parametrize("flags, chosen", [
    ("fpu sse avx avx2 avx512f avx512_vnni avx512_bf16", ("bf16", True, "avx512_bf16")),
    ("fpu sse avx avx2 amx_bf16 amx_tile", ("bf16", True, "amx_bf16")),
    ("fpu sse avx avx2 fma", ("fp32", False, "neither avx512_bf16 nor AMX")),
])
def test_auto_precision_follows_the_cpu_s_flags(tmp_path, monkeypatch, flags, chosen):
    from dcgan_cli.training import precision

    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(precision, "cpu_flags", lambda: precision._read_flags(info))
    cfg = precision.resolve_precision(TrainConfig(), "cpu")
    assert (cfg.precision, cfg.channels_last) == chosen[:2] and chosen[2] in cfg.precision_auto
    # given values stay: a forced precision, or a layout the user chose
    assert precision.resolve_precision(TrainConfig(precision="fp32"), "cpu").precision_auto is None
    assert precision.resolve_precision(TrainConfig(channels_last=False), "cpu").channels_last is False
    # no /proc/cpuinfo (macOS, Windows): fp32, and it says why
    monkeypatch.setattr(precision, "cpu_flags", lambda: None)
    unknown = precision.resolve_precision(TrainConfig(), "cpu")
    assert unknown.precision == "fp32" and "does not list the CPU's features" in unknown.precision_auto


def test_the_run_says_what_auto_chose_and_the_checkpoint_records_it(runner, tmp_path, monkeypatch):
    from dcgan_cli.training import precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "fma"})  # an AVX2-only machine
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "2", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    assert "precision auto: fp32 (this CPU has neither avx512_bf16 nor AMX" in r.output
    c = load_checkpoint(tmp_path / "r")
    assert c.train_config.precision == "fp32" and c.train_config.channels_last is False
    assert "avx512_bf16" in c.train_config.precision_auto
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx512_bf16"})
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "2", "--out", tmp_path / "b", *TINY)
    assert r.exit_code == 0 and "precision auto: bf16 + channels_last (this CPU reports avx512_bf16)" in r.output
    c = load_checkpoint(tmp_path / "b")
    assert c.train_config.precision == "bf16" and c.train_config.channels_last is True
    # the weights are fp32 whatever the run computed in: sampling is the same in fp32
    assert all(t.dtype == torch.float32 for t in c.state_dict("G").values() if t.is_floating_point())
    # a resumed run keeps what it was trained in, on any machine
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    r = invoke(runner, "train", "--resume", tmp_path / "b", "--max-steps", "3", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "b").train_config.precision == "bf16"


def test_a_new_run_inside_another_run_folder_is_refused(tiny_run, runner):
    """`--out RUN/checkpoints` once nested a new run inside another run's checkpoints/, said by nothing."""
    for inside in (tiny_run / "checkpoints", tiny_run / "samples" / "deeper"):
        r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--out", inside, *TINY)
        assert r.exit_code == 2 and "is inside the run folder" in r.output and str(tiny_run.name) in r.output, r.output
    assert not (tiny_run / "samples" / "deeper").exists()


def test_resuming_a_run_on_a_read_only_file_system_names_the_fix(tiny_run, runner, tmp_path, monkeypatch):
    """It said "Read-only file system: .../.lock" with no way forward (as root, permissions cannot make it so)."""
    import errno
    import os
    import shutil

    from dcgan_cli.core import runs

    copy = tmp_path / "ro"
    shutil.copytree(tiny_run, copy)
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(runs.os, "open", read_only)
    r = invoke(runner, "train", "--resume", copy, "--epochs", "3", "--device", "cpu")
    assert r.exit_code == 2 and "is on a read-only file system" in r.output and "--out NEW" in r.output, r.output
    assert "Traceback" not in r.output


def test_every_loss_the_config_accepts_has_its_d_and_g_objectives():
    from dcgan_cli.core.configs import LOSSES
    from dcgan_cli.training.steps import OBJECTIVES

    assert tuple(OBJECTIVES) == LOSSES and all(callable(d) and callable(g) for d, g in OBJECTIVES.values())
