"""Training recipes: every recipe flag trains, is stored in the checkpoint and resumes to the bit;
`--recipe paper` is Radford et al.'s procedure as it was trained before these flags existed; the
default recipe is announced by the run's first line."""

import hashlib
import json
import re
from pathlib import Path

import pytest
import torch

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.configs import TrainConfig
from dcgan_cli.core.errors import UsageError
from dcgan_cli.core.recipes import FAMILY_RECIPES, PAPER_TRAIN, build_configs
from dcgan_cli.training import plan_run, train
from dcgan_cli.training.augment import augment
from dcgan_cli.training.steps import d_hinge_loss, ema_decay_at, g_hinge_loss, lr_factor

from .conftest import TINY, invoke

REFERENCE = Path(__file__).parent / "reference" / "paper_recipe.json"

# Each recipe setting alone with a value that changes training, and all of them together.
SETTINGS = {
    "hinge": {"loss": "hinge"},
    "betas": {"beta1": 0.0, "beta2": 0.99, "d_beta1": 0.2, "d_beta2": 0.9, "d_lr": 3e-4},
    "r1": {"r1": 0.5, "r1_every": 2},
    "ema half-life": {"ema": True, "ema_kimg": 0.1, "ema_rampup": 0.5},
    "augment": {"augment": "translation,color,cutout"},
    "schedule": {"lr_schedule": "cosine"},
    "g steps": {"g_steps": 2},
    "all": {"loss": "hinge", "beta1": 0.0, "beta2": 0.99, "r1": 0.5, "r1_every": 2, "ema": True, "ema_kimg": 0.1,
            "ema_rampup": 0.5, "augment": "color,translation", "lr_schedule": "linear"},
}


def _plan(out, **settings):
    return plan_run(dataset="shapes", recipe="paper", out=out, model={"ngf": 8, "ndf": 8},
                    train={"max_steps": 4, "limit": 64, "batch_size": 32, "seed": 2, **settings})


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The paper recipe's weights after the same 4 steps: what each setting must change."""
    mp = pytest.MonkeyPatch()
    mp.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    try:
        return load_checkpoint(train(_plan(tmp_path_factory.mktemp("plain") / "r"), device="cpu").checkpoint)
    finally:
        mp.undo()


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_recipe_setting_is_stored_and_resumes_bit_exactly(name, tmp_path, plain):
    full = train(_plan(tmp_path / "full", **SETTINGS[name]), device="cpu")
    calls = []
    cut = train(_plan(tmp_path / "cut", **SETTINGS[name]), device="cpu", should_stop=lambda: calls.append(1) or len(calls) > 2)
    assert cut.interrupted and cut.step == 2
    resumed = train(plan_run(resume=tmp_path / "cut"), device="cpu")
    a, b = load_checkpoint(full.checkpoint), load_checkpoint(resumed.checkpoint)
    assert a.step == b.step == 4 and a.tensors.keys() == b.tensors.keys()
    for k in a.tensors:
        assert torch.equal(a.tensors[k], b.tensors[k]), k
    assert {k: getattr(a.train_config, k) for k in SETTINGS[name]} == SETTINGS[name]  # stored as given
    shown = "G_ema/main.0.weight" if a.has_ema else "G/main.0.weight"
    assert not torch.equal(plain.tensors["G/main.0.weight"], a.tensors[shown])  # the setting did something
    if name == "betas":
        assert a.meta["opt_d_groups"][0]["betas"] == [0.2, 0.9] and a.meta["opt_g_groups"][0]["betas"] == [0.0, 0.99]


def test_the_recipe_flags_reach_the_checkpoint(runner, tmp_path):
    r = invoke(runner, "train", "--dataset", "shapes", "--limit", "64", "--max-steps", "2", "--recipe", "paper", *TINY,
               "--loss", "hinge", "--beta1", "0", "--beta2", "0.99", "--d-beta1", "0.2", "--d-beta2", "0.9", "--r1", "0.5",
               "--r1-every", "2", "--ema", "--ema-kimg", "0.1", "--ema-rampup", "0.5", "--augment", "cutout,color",
               "--lr-schedule", "cosine", "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    t = load_checkpoint(tmp_path / "r").train_config
    assert (t.loss, t.beta1, t.beta2, t.d_beta1, t.d_beta2, t.r1, t.r1_every, t.ema_kimg, t.ema_rampup, t.augment,
            t.lr_schedule) == ("hinge", 0.0, 0.99, 0.2, 0.9, 0.5, 2, 0.1, 0.5, "cutout,color", "cosine")
    assert r.output.splitlines()[0].startswith(
        "recipe: paper (hinge loss, lr 0.0002, betas (0, 0.99), D lr 0.0002, betas (0.2, 0.9)")


def _digest(ckpt) -> tuple[str, dict[str, list[float]]]:
    h = hashlib.sha256()
    stats = {}
    for name in sorted(ckpt.tensors):
        if name.startswith("rng/"):
            continue
        t = ckpt.tensors[name].contiguous()
        h.update(name.encode())
        h.update(t.numpy().tobytes())
        if t.is_floating_point() and name.startswith(("G/", "D/")) and name.endswith("weight"):
            stats[name] = [float(t.double().sum()), float(t.double().abs().sum())]
    return h.hexdigest(), stats


def test_the_paper_recipe_trains_what_it_trained_before_the_recipe_flags(tmp_path):
    ref = json.loads(REFERENCE.read_text())
    plan = plan_run(dataset="shapes", recipe="paper", out=tmp_path / "r", model={"ngf": 8, "ndf": 8},
                    train={"max_steps": 6, "batch_size": 32, "limit": 128, "seed": 5, "precision": "fp32", "log_every": 2})
    train(plan, device="cpu")
    sha, stats = _digest(load_checkpoint(tmp_path / "r"))
    assert stats.keys() == ref["stats"].keys()
    for name, (total, size) in stats.items():
        assert total == pytest.approx(ref["stats"][name][0], rel=1e-4, abs=1e-4), name
        assert size == pytest.approx(ref["stats"][name][1], rel=1e-5), name
    flags = sorted(set(re.findall(r"\bavx\S*", Path("/proc/cpuinfo").read_text()))) if Path("/proc/cpuinfo").exists() else []
    if torch.__version__ == ref["torch"] and flags == ref["cpu_flags"]:
        assert sha == ref["sha256"]  # the machine it was recorded on: to the bit


def test_the_run_says_its_recipe_first_and_how_to_get_the_papers(runner, tmp_path):
    r = invoke(runner, "train", "--dataset", "shapes", "--limit", "64", "--max-steps", "1", *TINY, "--out", tmp_path / "a")
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[0]
    assert first.startswith("recipe: default for shapes") and "--recipe paper trains Radford et al.'s exactly" in first
    assert load_checkpoint(tmp_path / "a").train_config.recipe == "default"
    r = invoke(runner, "train", "--dataset", "shapes", "--limit", "64", "--max-steps", "1", "--recipe", "paper", "--loss",
               "hinge", *TINY, "--out", tmp_path / "b")
    assert r.output.splitlines()[0] == "recipe: paper (hinge loss)"  # what a flag changed from the recipe is said


def test_the_paper_recipe_undoes_every_default_and_flags_still_win():
    for dataset, size in (("shapes", 32), ("mnist", 28), ("mnist", 64), ("celeba", 64)):
        _, t = build_configs(dataset, recipe="paper", model_overrides={"size": size})
        assert {k: getattr(t, k) for k in PAPER_TRAIN} == PAPER_TRAIN
        assert (t.d_lr, t.d_beta1, t.d_beta2, t.ema_kimg) == (None, None, None, None)
        assert set(FAMILY_RECIPES[{"shapes": "shapes"}.get(dataset, "small" if size <= 32 else "large")]) <= \
            set(TrainConfig.__dataclass_fields__) | {"ngf", "ndf"}
    _, t = build_configs("shapes", recipe="paper", train_overrides={"loss": "hinge"})
    assert t.loss == "hinge" and t.recipe == "paper"


@pytest.mark.parametrize("bad, says", [
    ({"augment": "flip"}, "--augment must be a comma-separated list of translation, color, cutout"),
    ({"augment": "color,color"}, "each once"),
    ({"r1": -1.0}, "--r1 must be 0 (off)"),
    ({"ema_rampup": 2.0}, "--ema-rampup must be in (0, 1]"),
    ({"d_beta2": 1.0}, "--d-beta2 must be in [0, 1)"),
])
def test_bad_recipe_values_name_the_flag(bad, says, runner, tmp_path):
    flags = [x for k, v in bad.items() for x in ("--" + k.replace("_", "-"), str(v))]
    r = invoke(runner, "train", "--dataset", "shapes", *flags, *TINY, "--out", tmp_path / "x")
    assert r.exit_code == 2 and says in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x").exists()


def test_diffaugment_moves_crops_and_recolours_the_same_way_for_the_same_stream():
    x = torch.zeros(8, 3, 16, 16)
    x[:, :, 6:10, 6:10] = 1.0  # a white square in the middle of grey
    g = torch.Generator().manual_seed(0)
    moved = augment(x, "translation", g)
    assert moved.shape == x.shape and moved.sum(dim=(1, 2, 3)).allclose(x.sum(dim=(1, 2, 3)))  # shifted, not cut
    assert not torch.equal(moved, x)
    shifts = {tuple(torch.nonzero(m[0])[0].tolist()) for m in moved}
    assert len(shifts) > 1  # each image its own shift, at most 1/8 of the side
    assert all(abs(r - 6) <= 2 and abs(c - 6) <= 2 for r, c in shifts)
    holes = augment(torch.ones(8, 1, 16, 16), "cutout", torch.Generator().manual_seed(1))
    assert ((holes == 0).sum(dim=(1, 2, 3)) <= 64).all() and ((holes == 0).sum(dim=(1, 2, 3)) >= 16).all()
    a = augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    b = augment(x, "color,translation,cutout", torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    y = x.clone().requires_grad_(True)
    augment(y, "color,translation,cutout", torch.Generator().manual_seed(3)).sum().backward()
    assert y.grad is not None and y.grad.abs().sum() > 0  # differentiable: G learns through it


def test_hinge_loss_ema_half_life_and_lr_schedule_are_what_they_say():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    assert float(d_hinge_loss(real, fake)) == pytest.approx(0.25 + 0.5)
    assert float(g_hinge_loss(fake)) == pytest.approx(1.0)
    cfg = TrainConfig(ema=True, ema_kimg=1.0)
    decay = ema_decay_at(cfg, 10_000, images_per_step=100)
    assert decay ** 10 == pytest.approx(0.5)  # 10 steps of 100 images: 1 kimg, the weight of the past halves
    ramped = TrainConfig(ema=True, ema_kimg=1.0, ema_rampup=0.1)
    assert ema_decay_at(ramped, 9, images_per_step=100) ** 1 == pytest.approx(0.5)  # 1,000 shown: half-life 100 images
    assert lr_factor("constant", 50, 100) == 1.0
    assert lr_factor("linear", 25, 100) == pytest.approx(0.75) and lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100) == pytest.approx(0.0)


def test_a_long_run_keeps_its_best_and_the_analyses_use_it(runner, tmp_path, shapes_classifier):
    plan = plan_run(dataset="shapes", out=tmp_path / "long", train={"max_steps": 40_000})
    assert plan.train.eval_every == 2_000 and plan.train.eval_features == "domain"
    assert any("best.safetensors" in n and "--eval-every 0" in n for n in plan.notes)
    assert plan_run(dataset="shapes", out=tmp_path / "off", train={"max_steps": 40_000, "eval_every": 0}).train.eval_every == 0
    assert plan_run(dataset="shapes", out=tmp_path / "short").train.eval_every is None  # a CPU-length run pays nothing
    run = tmp_path / "r"
    r = invoke(runner, "train", "--dataset", "shapes", "--limit", "64", "--max-steps", "4", "--eval-every", "2", "--eval-n",
               "16", *TINY, "--out", run)
    assert r.exit_code == 0, r.output
    r = invoke(runner, "sample", run, "--seeds", "0-3", "--out", tmp_path / "s.png", "--device", "cpu")
    assert r.exit_code == 0 and "best.safetensors" in r.output, r.output
    assert load_checkpoint(run).path.name == "step-00000004.safetensors"  # a resume continues from the newest


def test_the_analyses_say_they_use_the_best_and_a_damaged_best_is_said_once_and_replaced(runner, tmp_path):
    run = tmp_path / "r"
    r = invoke(runner, "train", "--dataset", "shapes", "--limit", "64", "--max-steps", "4", "--eval-every", "2", "--eval-n",
               "16", *TINY, "--out", run)
    assert r.exit_code == 0, r.output
    for args in (["interpolate", run, "--steps", "3"], ["nn-search", run, "--n", "2", "--k", "1"]):
        r = invoke(runner, *args, "--device", "cpu")
        assert r.exit_code == 0 and f"using {run / 'best.safetensors'}: step " in r.output, r.output
        assert "the best by domain FID" in r.output
    (run / "best.safetensors").write_bytes((run / "best.safetensors").read_bytes()[:300])  # cut short
    r = invoke(runner, "sample", run, "--seeds", "0-3", "--out", tmp_path / "s.png", "--device", "cpu")
    assert r.exit_code == 0 and r.output.count("best.safetensors cannot be read (damaged or cut short)") == 1, r.output
    assert "step-00000004.safetensors" in r.output
    r = invoke(runner, "train", "--resume", run, "--max-steps", "6", "--device", "cpu")
    assert r.exit_code == 0 and r.output.count("cannot be read (damaged or cut short): the best so far") == 1, r.output
    assert load_checkpoint(run / "best.safetensors").meta["best"]["step"] == 6  # measured anew, whatever it scored


def test_a_recipe_named_in_a_toml_file_is_checked_there(tmp_path):
    cfg = tmp_path / "r.toml"
    cfg.write_text('[train]\nrecipe = "fancy"\n')
    with pytest.raises(UsageError, match=r"\[train\] recipe 'fancy' is not a recipe; choose one of default, paper"):
        build_configs("shapes", config_file=cfg)
    cfg.write_text('[train]\nrecipe = "paper"\n')
    assert build_configs("shapes", config_file=cfg)[1].recipe == "paper"


@pytest.mark.parametrize("flags, says", [
    (["--ema-kimg", "10"], "--ema-kimg does nothing here: it tunes the EMA generator, which is off; add --ema"),
    (["--ema-rampup", "0.05"], "--ema-rampup does nothing here: it tunes the EMA generator, which is off"),
    (["--ema-decay", "0.99"], "--ema-decay does nothing here: it tunes the EMA generator, which is off"),
    (["--no-ema", "--ema-kimg", "10"], "which --no-ema turns off; drop one of the two"),
    (["--ema", "--ema-rampup", "0.05"], "--ema-rampup does nothing here: it ramps a half-life given in images; add --ema-kimg"),
    (["--ema", "--ema-kimg", "5", "--ema-decay", "0.99"], "--ema-decay does nothing here: it is replaced by --ema-kimg"),
    (["--r1-every", "4"], "--r1-every does nothing here: it spaces the R1 penalty, which is off; add --r1"),
    (["--eval-every", "0", "--eval-n", "512"], "--eval-n does nothing here"),
])
def test_a_setting_that_another_one_makes_do_nothing_is_refused(runner, tmp_path, flags, says):
    r = invoke(runner, "train", "--dataset", "shapes", "--max-steps", "2", "--out", tmp_path / "run", *TINY, *flags)
    assert r.exit_code == 2 and says in r.output, r.output
    assert not (tmp_path / "run").exists()


def test_a_toml_setting_that_does_nothing_is_refused_naming_the_file(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[train]\nema_kimg = 10\n")
    with pytest.raises(UsageError, match=r"run.toml: \[train\] ema_kimg does nothing here"):
        build_configs("shapes", config_file=toml)


def test_ema_tuning_with_the_ema_on_is_kept(tmp_path):
    _, t = build_configs("shapes", train_overrides={"ema": True, "ema_kimg": 10.0, "ema_rampup": 0.05})
    assert (t.ema, t.ema_kimg, t.ema_rampup) == (True, 10.0, 0.05)
