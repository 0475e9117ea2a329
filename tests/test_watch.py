"""Training you can watch: stabilisers as options, the paper recipe, default lengths, window
statistics, collapse and D-won warnings, TensorBoard and the pictures of a run."""

import json

import pytest
import torch
from PIL import Image

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.recipes import build_configs
from dcgan_cli.training import plan_run
from dcgan_cli.training.watch import COLLAPSE_BELOW, Watchdog, diversity

from .conftest import TINY, invoke, make_mnist


def test_stabilisers_are_stored_used_and_resume_exactly(runner, tmp_path):
    common = ["--limit", "128", "--seed", "4", "--d-lr", "1e-4", "--label-smoothing", "0.1", "--instance-noise", "0.2",
              "--spectral-norm", *TINY]
    assert invoke(runner, "train", *common, "--epochs", "2", "--out", tmp_path / "a").exit_code == 0
    assert invoke(runner, "train", *common, "--epochs", "1", "--out", tmp_path / "b").exit_code == 0
    r = invoke(runner, "train", "--resume", tmp_path / "b", "--epochs", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    t = a.train_config
    assert (t.d_lr, t.label_smoothing, t.instance_noise, a.model_config.spectral_norm) == (1e-4, 0.1, 0.2, True)
    assert a.meta["opt_d_groups"][0]["lr"] == 1e-4 and a.meta["opt_g_groups"][0]["lr"] == 2e-4
    assert not any("running_mean" in k for k in a.tensors if k.startswith("D/"))  # spectral norm replaces D's batch norm
    assert any("parametrizations" in k for k in a.tensors if k.startswith("D/"))
    for name, x in a.tensors.items():
        if not name.startswith("rng/"):
            assert torch.equal(x, b.tensors[name]), name


def test_the_paper_recipe_turns_every_stabiliser_off_and_flags_still_win(tmp_path):
    cfg = tmp_path / "r.toml"
    cfg.write_text("[train]\nema = true\nlabel_smoothing = 0.2\n")
    m, t = build_configs("shapes", recipe="paper")
    assert (t.ema, t.d_lr, t.label_smoothing, t.instance_noise, m.spectral_norm) == (False, None, 0.0, 0.0, False)
    m, t = build_configs("shapes", recipe="paper", config_file=cfg, train_overrides={"label_smoothing": 0.05})
    assert t.ema is True and t.label_smoothing == 0.05  # recipe < TOML < flags


def test_a_preset_belongs_to_a_size():
    m, _ = build_configs("mnist", model_overrides={"size": 64})
    assert (m.size, m.projection, m.kernel, m.d_dropout, m.ngf) == (64, "conv", 4, 0.0, 64)  # paper64, not mnist28
    m, _ = build_configs("mnist")
    assert (m.size, m.projection) == (28, "dense")
    m, _ = build_configs("mnist", preset="mnist28", model_overrides={"size": 28})
    assert m.projection == "dense"


def test_the_default_length_is_counted_in_images(tmp_path):
    plan = plan_run(dataset="shapes", out=tmp_path / "r")
    assert plan.train.batch_size == 32 and plan.total_steps == 2188  # shapes' default recipe: 70 kimg at batch 32
    paper = plan_run(dataset="shapes", recipe="paper", out=tmp_path / "r")
    assert paper.train.batch_size == 64 and paper.total_steps == 1250  # the paper recipe: 80 kimg at batch 64
    plan = plan_run(dataset="mnist", data_root=make_mnist(tmp_path / "digits", n_train=256), out=tmp_path / "m")
    assert plan.train.batch_size == 128 and plan.total_steps == 2344  # 300 kimg, whatever the data set's size
    plan = plan_run(dataset="shapes", train={"kimg": 8, "batch_size": 100}, out=tmp_path / "r")
    assert plan.total_steps == 80
    plan = plan_run(dataset="shapes", train={"epochs": 2, "batch_size": 128}, out=tmp_path / "r")
    assert plan.total_steps == 2 * 64


def test_diversity_and_the_collapse_warning():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 3, 8, 8, generator=g) * 2 - 1
    assert diversity(real, real) == pytest.approx(1.0)
    same = real[:1].repeat(64, 1, 1, 1)
    assert diversity(same + 1e-4 * torch.randn(same.shape, generator=g), real) < 0.01
    dog = Watchdog()
    warning, note = dog.check_diversity(0.01, 100)  # a fresh G draws alike images: not collapse, but noted once
    assert warning is None and "nearly alike at step 100" in note and "not learned yet" in note
    assert dog.check_diversity(0.03, 800) == (None, None)  # never diverse and D has not won: not learned yet, said once
    assert dog.check_diversity(0.9, 900) == (None, "diversity up to 0.90 at step 900: the samples vary now")
    warning, _ = dog.check_diversity(0.03, 1000)  # diverse once, alike now: collapse
    assert "mode collapse at step 1000:" in warning and "--ema" in warning
    assert dog.check_diversity(0.02, 1100) == (None, None)  # said once
    assert dog.check_diversity(0.9, 1200) == (None, "diversity back to 0.90 at step 1200: the samples vary again (recovered)")
    assert dog.check_diversity(COLLAPSE_BELOW / 2, 1300)[0]  # came back
    stuck = Watchdog()
    stuck.check_window({"d_x": 0.85, "d_g_z": 0.15}, 10)
    assert stuck.check_diversity(0.02, 15)[0] is None  # alike, D not far ahead: not learned yet
    stuck.check_window({"d_x": 0.95, "d_g_z": 0.05}, 20)
    warning, _ = stuck.check_diversity(0.02, 25)  # never diverse, but alike while D is well ahead: collapse, however early
    assert "mode collapse at step 25 (collapsed early, before the samples ever varied)" in warning
    assert "recovered" in stuck.check_diversity(0.8, 30)[1]


def test_a_wavering_grid_tells_one_story():
    """A face folder's grid went 0.38, 0.43, 0.38: collapse, recovered, collapse again; and 'back to 0.42
    (recovered)' was followed by 'up to 0.41: the samples vary now'. Between the bars nothing new is said."""
    from dcgan_cli.training.watch import RECOVER_ABOVE

    dog = Watchdog()
    dog.check_diversity(0.9, 10)
    said = [dog.check_diversity(v, step) for step, v in ((129, 0.38), (165, 0.43), (201, 0.38), (240, 0.45))]
    assert "mode collapse at step 129" in said[0][0] and said[1:] == [(None, None)] * 3
    assert "recovered" in dog.check_diversity(RECOVER_ABOVE + 0.1, 300)[1]
    fresh = Watchdog()
    fresh.check_diversity(0.05, 10)  # not learned yet
    fresh.check_window({"d_x": 0.95, "d_g_z": 0.05}, 20)
    assert "mode collapse" in fresh.check_diversity(0.05, 30)[0]
    assert "recovered" in fresh.check_diversity(0.6, 81)[1]
    assert fresh.check_diversity(0.7, 84) == (None, None)  # no second "the samples vary now"

def test_d_won_is_warned_after_a_long_stretch():
    dog = Watchdog()
    won = {"d_x": 0.995, "d_g_z": 0.004}
    assert dog.check_window(won, 10) == (None, None) and dog.check_window(won, 20) == (None, None)
    warning, _ = dog.check_window(won, 30)
    assert "D has won at step 30" in warning and "--d-lr" in warning
    assert dog.check_window(won, 40) == (None, None)
    assert dog.check_window({"d_x": 0.7, "d_g_z": 0.3}, 50) == (None, "D no longer dominates at step 50: D(x) 0.70, D(G(z)) 0.30")
    assert dog.check_window({"d_x": 0.7, "d_g_z": 0.3}, 60) == (None, None)


def test_a_collapsed_run_says_so_and_a_short_one_does_not(runner, tmp_path, monkeypatch):
    from dcgan_cli.training import writer as loop

    values = iter([0.9, 0.01, 0.8])  # diverse, then every seed draws one picture, then varied again
    monkeypatch.setattr(loop, "diversity", lambda samples, real: next(values))
    r = invoke(runner, "train", "--limit", "64", "--epochs", "3", "--snap-kimg", "0.064", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0 and "warning: mode collapse at step 4" in r.output, r.output
    assert "note: diversity back to 0.80 at step 6" in r.output
    assert "diversity of the fixed-seed grid 0.80" in r.stdout and "img/s" in r.stdout  # the end-of-run summary
    lines = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert any("mode collapse" in x.get("warning", "") for x in lines) and any("back to" in x.get("note", "") for x in lines)
    monkeypatch.setattr(loop, "diversity", lambda samples, real: 0.01)  # a run too short to learn anything
    r = invoke(runner, "train", "--limit", "64", "--epochs", "1", "--out", tmp_path / "short", *TINY)
    assert r.exit_code == 0 and "mode collapse" not in r.output and "the samples are still alike: train longer" in r.stdout


def test_plot_draws_curves_progress_and_real_vs_fake(tiny_run, runner):
    r = invoke(runner, "plot", tiny_run)
    assert r.exit_code == 0, r.output
    plots = tiny_run / "plots"
    assert Image.open(plots / "curves.png").size[0] >= 600
    gif = Image.open(plots / "progress.gif")
    assert gif.n_frames == len(list((tiny_run / "samples").glob("step-*.png"))) and gif.size[0] >= 512
    assert (plots / "progress.mp4").read_bytes()[4:8] == b"ftyp"  # and an MP4 beside it (the video extra is installed)
    assert Image.open(plots / "real-vs-fake.png").size[0] > 1000


def test_tensorboard_events_are_written(runner, tmp_path):
    r = invoke(runner, "train", "--limit", "64", "--epochs", "1", "--tensorboard", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 0, r.output
    assert list((tmp_path / "r" / "tensorboard").glob("events.out.tfevents.*"))


def test_tensorboard_missing_names_the_extra(runner, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--tensorboard", "--out", tmp_path / "r", *TINY)
    assert r.exit_code == 2 and "pip install 'dcgan-cli[tensorboard]'" in r.output
