import json
import re

import pytest
import torch
from PIL import Image

from dcgan_cli.attributes.classifier import degrade
from dcgan_cli.attributes.phrases import ParseError, Term, parse_expression, phrase_constraints, vocabulary
from dcgan_cli.core.errors import UsageError
from dcgan_cli.core.model import ModelConfig
from dcgan_cli.latent.interpolate import lerp, path_through, slerp
from dcgan_cli.vector_arithmetic.arithmetic import parse_define
from dcgan_cli.vector_arithmetic.methods import Concept, sum_terms, to_prior_shell

from .conftest import forge_checkpoint, invoke

# --- the expression parser


def test_parse_valid_expressions():
    terms = parse_expression("smiling woman - woman + man")
    assert [(t.coef, t.phrase, t.pos) for t in terms] == [(1.0, "smiling woman", 1), (-1.0, "woman", 17), (1.0, "man", 25)]
    terms = parse_expression("0.5 Red circle+2 square - .25 blue")
    assert [(t.coef, t.phrase) for t in terms] == [(0.5, "red circle"), (2.0, "square"), (-0.25, "blue")]
    assert parse_expression("- circle")[0].coef == -1.0


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the expression is empty"),
        ("smiling woman - ", "expected a concept after the operator at column 17"),
        ("smiling + - man", "expected a concept word, found '-' at column 11"),
        ("red circle * 2", "unexpected character '*' at column 12"),
        ("red & circle", "unexpected character '&' at column 5"),
        ("red 2 circle", "expected + or -, found '2' at column 5"),
        ("circle + 3", "expected a concept after the number 3"),
    ],
)
def test_parse_errors_point_at_the_column(text, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        parse_expression(text)


def test_vocabulary_aliases_and_unknown_words():
    names = ["Smiling", "Male", "No_Beard", "Young", "Eyeglasses"]
    vocab = vocabulary("celeba", names)
    assert vocab["woman"] == (1, 0) and vocab["man"] == (1, 1) and vocab["beard"] == (2, 0) and vocab["old"] == (3, 0)
    with pytest.raises(UsageError, match="unknown concept word 'smilling'; did you mean smiling.* known words are: .*glasses"):
        phrase_constraints(parse_expression("smilling woman"), vocab)


def test_a_phrase_fixes_every_attribute_named_in_the_expression():
    vocab = vocabulary("celeba", ["Smiling", "Male"])
    wants = phrase_constraints(parse_expression("smiling woman - woman + man"), vocab)
    assert wants == [{0: 1, 1: 0}, {0: 0, 1: 0}, {0: 0, 1: 1}]  # "woman" is a neutral woman


def test_sum_terms_and_define():
    terms = [Term(1.0, ("a",), 1), Term(-1.0, ("b",), 5), Term(0.5, ("c",), 9)]
    cs = [Concept(t.phrase, torch.full((3,), v), 1, 1.0) for t, v in zip(terms, (4.0, 1.0, 2.0))]
    assert torch.equal(sum_terms(terms, cs), torch.full((3,), 4.0))
    assert parse_define("Smiling  Woman=1-3,9") == ("smiling woman", [1, 2, 3, 9])
    with pytest.raises(UsageError, match="write 'phrase=seed"):
        parse_define("smiling woman")


def test_to_prior_shell_keeps_the_direction_at_the_priors_norm():
    cfg = ModelConfig(size=32, nz=100)
    v = to_prior_shell(torch.full((2, 100), 0.2), cfg)
    assert torch.allclose(v, torch.ones(2, 100))  # direction of (0.2, ...) at norm sqrt(100) = 10


def test_bank_and_classifier_caches_are_keyed_by_the_prepared_data(tiny_run):
    from dataclasses import replace

    from dcgan_cli.attributes.bank import bank_path
    from dcgan_cli.attributes.classifier import classifier_path
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.data import checkpoint_data

    c = load_checkpoint(tiny_run)
    a = bank_path(c, "shapes-32px-aaaa", 256, 0, False)
    assert a == bank_path(c, "shapes-32px-aaaa", 256, 0, False)
    assert a != bank_path(c, "shapes-32px-bbbb", 256, 0, False)  # another classifier: a new bank
    assert a != bank_path(c, "shapes-32px-aaaa", 256, 0, True)  # the EMA generator's samples differ
    assert a.parent == tiny_run / "concepts"
    data = checkpoint_data(c)
    path, key = classifier_path(data)
    assert path.parent == data.cache_dir.parent / "classifiers"  # with the data, not in the run folder
    assert key != classifier_path(replace(data, fingerprint="redrawn"))[1]  # redrawn data: a new classifier


def test_degraded_training_copies_keep_shape_and_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    y = degrade(x, g)
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert not torch.equal(x, y)


# --- interpolation paths


def test_lerp_and_slerp_endpoints_and_norms():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(100, generator=g, dtype=torch.float64), torch.randn(100, generator=g, dtype=torch.float64)
    t = torch.linspace(0, 1, 9, dtype=torch.float64)
    for fn in (lerp, slerp):
        p = fn(a, b, t)
        assert torch.allclose(p[0], a) and torch.allclose(p[-1], b)
    s = slerp(a, b, t)
    expected = (1 - t) * a.norm() + t * b.norm()
    assert torch.allclose(s.norm(dim=1), expected)  # slerp keeps norms on the line between the ends
    assert lerp(a, b, t)[4].norm() < s[4].norm()  # lerp cuts through the low-density middle


def test_slerp_parallel_endpoints_fall_back_to_lerp():
    a = torch.ones(10, dtype=torch.float64)
    t = torch.linspace(0, 1, 5, dtype=torch.float64)
    for b in (2 * a, -a, torch.zeros(10, dtype=torch.float64)):
        p = slerp(a, b, t)
        assert torch.isfinite(p).all() and torch.allclose(p, lerp(a, b, t))


def test_path_through_keeps_each_point_once():
    zs = torch.eye(4, 5, dtype=torch.float64)
    p = path_through(zs, 5, "lerp")
    assert p.shape == (3 * 4 + 1, 5)
    for i in range(4):
        assert torch.allclose(p[4 * i], zs[i])


def test_interpolation_ends_equal_sampled_seeds(tiny_run, runner, tmp_path):
    r = invoke(runner, "interpolate", tiny_run, "--from", "3", "--to", "8", "--steps", "5", "--out", tmp_path / "i.png",
               "--gif", tmp_path / "i.gif", "--device", "cpu")
    assert r.exit_code == 0, r.output
    import dcgan_cli as dc

    walk = dc.interpolate(tiny_run, pairs=[(3, 8)], steps=5)
    ends = dc.sample(tiny_run, [3, 8]).images()
    assert torch.equal(walk.frames[0, 0], ends[0]) and torch.equal(walk.frames[0, -1], ends[1])  # the ends are the seeds' samples
    assert Image.open(tmp_path / "i.gif").n_frames == 5 + 3
    w, h = Image.open(tmp_path / "i.png").size
    assert w > 5 * 128 and h > 128  # five frames of 128 px, with the seeds and t written on


def test_interpolate_rows_and_through(tiny_run, runner, tmp_path):
    r = invoke(
        runner,
        "interpolate",
        tiny_run,
        "--rows",
        "3",
        "--steps",
        "4",
        "--method",
        "lerp",
        "--out",
        tmp_path / "r.png",
        "--device",
        "cpu",
    )
    w, h = Image.open(tmp_path / "r.png").size
    assert r.exit_code == 0 and w > 4 * 128 and 3 * 128 < h < 4 * 128 + 100  # 3 rows of 4 frames, 128 px tiles, labelled
    r = invoke(
        runner,
        "interpolate",
        tiny_run,
        "--through",
        "3,8,12,3",
        "--steps",
        "4",
        "--gif",
        tmp_path / "t.gif",
        "--out",
        tmp_path / "t.png",
        "--device",
        "cpu",
    )
    gif = Image.open(tmp_path / "t.gif")
    assert r.exit_code == 0 and gif.n_frames == 10 and min(gif.size) >= 256  # a frame a person can see
    r = invoke(runner, "interpolate", tiny_run, "--steps", "1", "--device", "cpu")
    assert r.exit_code == 2 and "--steps must be at least 2" in r.output
    r = invoke(runner, "interpolate", tiny_run, "--method", "cubic", "--device", "cpu")
    assert r.exit_code == 2 and "'cubic' is not one of 'slerp', 'lerp'" in r.output


# --- arithmetic end to end


def test_arithmetic_with_defined_concepts(tiny_run, runner, tmp_path):
    r = invoke(runner, "arithmetic", "smiling woman - woman + man", "--ckpt", tiny_run, "--define", "smiling woman=1,2,3",
               "--define", "woman=4,5", "--define", "man=6", "--variants", "2", "--out", tmp_path / "d.png",
               "--individual", tmp_path / "ind", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "3 anchors: seeds of it" in r.output  # the anchored method starts from each seed of the first term
    assert len(list((tmp_path / "ind").glob("result-*.png"))) == 3
    r = invoke(
        runner,
        "arithmetic",
        "smiling woman - woman + man",
        "--ckpt",
        tiny_run,
        "--define",
        "smiling woman=1,2,3",
        "--define",
        "woman=4,5",
        "--define",
        "man=6",
        "--variants",
        "2",
        "--method",
        "paper",
        "--individual",
        tmp_path / "p",
        "--out",
        tmp_path / "p.png",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "p").glob("result-*.png"))) == 3  # the result and two noisy variants


def test_arithmetic_probe_reports_each_attribute(tiny_run, runner, tmp_path, shapes_classifier):
    r = invoke(
        runner,
        "arithmetic",
        tiny_run,
        "--probe",
        "--samples",
        "256",
        "--json",
        tmp_path / "p.json",
        "--device",
        "cpu",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "p.json").read_text())["attributes"]
    assert [row["attribute"] for row in rows] == ["circle/square/triangle", "red/green/blue/yellow", "small/large"]
    for row in rows:
        assert row["attribute"] in r.output and row["verdict"] in r.output
        assert row["accuracy"] is None or 0 <= row["accuracy"] <= 1


def test_arithmetic_method_errors(tiny_run, runner, tmp_path):
    r = invoke(runner, "arithmetic", tiny_run, "2 a - b", "--define", "a=1", "--define", "b=2", "--device", "cpu")
    assert r.exit_code == 2 and "coefficient must be 1" in r.output and "--method paper" in r.output
    r = invoke(runner, "arithmetic", tiny_run, "a - b", "--method", "magic", "--device", "cpu")
    assert r.exit_code == 2 and "magic" in r.output
    (tmp_path / "f").write_text("x")
    r = invoke(runner, "arithmetic", tiny_run, "a", "--define", "a=1", "--individual", tmp_path / "f", "--device", "cpu")
    assert r.exit_code == 2 and "--individual" in r.output and "is a file" in r.output
    r = invoke(runner, "arithmetic", tiny_run, "--device", "cpu")  # a checkpoint and no expression
    assert r.exit_code == 2 and "give an expression after it" in r.output
    r = invoke(runner, "arithmetic", tiny_run, "--probe", "--samples", "5", "--device", "cpu")
    assert r.exit_code == 2 and "--samples must be 16" in r.output


def test_arithmetic_errors(tiny_run, runner, tmp_path):
    r = invoke(runner, "arithmetic", "red hexagon", "--ckpt", tiny_run, "--device", "cpu")
    assert r.exit_code == 2 and "unknown concept word 'hexagon'" in r.output and "circle" in r.output
    r = invoke(runner, "arithmetic", "red + + square", "--ckpt", tiny_run, "--device", "cpu")
    assert r.exit_code == 2 and "column 7" in r.output


def test_arithmetic_on_unlabelled_data_asks_for_define(tiny_run, runner, tmp_path):
    from dcgan_cli.core.checkpoint import load_checkpoint

    c = load_checkpoint(tiny_run)
    forge_checkpoint(tmp_path / "u.safetensors", c.tensors, {**c.meta, "dataset": {**c.meta["dataset"], "label_names": []}})
    r = invoke(runner, "arithmetic", "cat + dog", "--ckpt", tmp_path / "u.safetensors", "--device", "cpu")
    assert r.exit_code == 2 and "no labels" in r.output and "--define" in r.output


def test_an_unknown_word_names_the_models_data_set_and_what_the_word_needs(tiny_run, runner):
    r = invoke(runner, "arithmetic", tiny_run, "smiling woman - woman + man", "--device", "cpu")
    assert r.exit_code == 2 and "this model was trained on shapes, whose labels give: blue, circle" in r.output
    assert "'smiling' needs a model trained on celeba" in r.output


def test_truncation_pulls_samples_toward_the_mean_and_is_named(tiny_run, runner, tmp_path):
    import dcgan_cli as dc

    zero = dc.sample(tiny_run, [0, 1, 2], trunc=0.0).images()
    assert torch.equal(zero[0], zero[1]) and torch.equal(zero[1], zero[2])  # psi 0: every seed draws G(mean)
    assert not torch.equal(dc.sample(tiny_run, [0], trunc=0.7).images(), dc.sample(tiny_run, [0]).images())
    assert torch.equal(dc.sample(tiny_run, [5], trunc=1.0).images(), dc.sample(tiny_run, [5]).images())
    r = invoke(runner, "sample", tiny_run, "--seeds", "0-3", "--trunc", "0.7", "--device", "cpu")
    assert r.exit_code == 0 and "seeds-0-3-trunc0.7.png" in r.output
    walk = dc.interpolate(tiny_run, pairs=[(3, 8)], steps=3, trunc=0.5)
    assert walk.to_dict()["truncation"] == 0.5 and walk.default_name().endswith("-trunc0.5.png")
    r = invoke(
        runner, "interpolate", tiny_run, "--steps", "3", "--trunc", "0.5", "--outdir", tmp_path / "w.png", "--device", "cpu"
    )
    assert r.exit_code == 0 and (tmp_path / "w.png").exists()  # --outdir, as stylegan's tools spell it


def test_train_help_reads_by_topic(runner):
    r = invoke(runner, "train", "--help")
    for panel in ("Data", "Model", "Schedule", "Stabilisers", "Evaluation", "Scale and speed", "Output"):
        assert f"─ {panel} " in r.stdout, panel
    assert "(default 128)" not in r.stdout and "(default 5," not in r.stdout  # defaults that were not true for shapes


def test_the_sample_grid_is_enlarged_to_be_seen_and_scale_keeps_the_pixels(tiny_run, tmp_path):
    import numpy as np

    import dcgan_cli as dc

    raw = dc.sample(tiny_run, [0, 1, 2, 3], scale=1)
    big = dc.sample(tiny_run, [0, 1, 2, 3], labels=False)
    assert raw.figure().size == (2 * 34 + 2, 2 * 34 + 2) and big.figure().size == (2 * 130 + 2, 2 * 130 + 2)
    a, b = np.asarray(raw.figure()), np.asarray(big.figure())
    assert np.array_equal(a[2:34, 2:34], b[2:130:4, 2:130:4])  # nearest: every model pixel a 4x4 block, nothing invented
    # by default each tile has its seed below it: the same pixels, then a band of dark text on white
    labelled = np.asarray(dc.sample(tiny_run, [0, 1, 2, 3]).figure())
    assert labelled.shape[1] == 4 + 128 + 4 + 128 + 4 and labelled.shape[0] > labelled.shape[1]
    assert np.array_equal(labelled[4:132, 4:132], b[2:130, 2:130])
    band = labelled[132:150, 4:132]
    assert (band < 100).all(-1).sum() > 20 and (band == 255).all(-1).mean() > 0.5  # a caption, on white


def test_sample_grid_captions_name_each_seed(tiny_run, tmp_path):
    import numpy as np

    import dcgan_cli as dc

    a = np.asarray(dc.sample(tiny_run, [5, 6]).figure())
    b = np.asarray(dc.sample(tiny_run, [5, 7]).figure())
    # the first tile and caption are the same; the second caption differs with its seed
    assert np.array_equal(a[:, :136], b[:, :136]) and not np.array_equal(a[132:150, 136:], b[132:150, 136:])


def test_an_mp4_is_written_beside_the_gif_where_an_encoder_is_installed(tiny_run, runner, tmp_path, monkeypatch):
    import importlib.util

    r = invoke(runner, "interpolate", tiny_run, "--steps", "4", "--gif", tmp_path / "w.gif", "--device", "cpu")
    assert r.exit_code == 0 and (tmp_path / "w.mp4").read_bytes()[4:8] == b"ftyp"  # an MP4 container
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "imageio_ffmpeg" else real(name, *a))
    r = invoke(runner, "interpolate", tiny_run, "--steps", "4", "--gif", tmp_path / "v.gif", "--device", "cpu")
    assert r.exit_code == 0 and (tmp_path / "v.gif").exists() and not (tmp_path / "v.mp4").exists()  # GIF otherwise


def test_more_like_this_stays_near_its_seed_and_reads_what_it_shows(concept_run, runner, tmp_path):
    """`sample --around S --radius R`: steps around seed S's z (radius 0 is S itself; the variance of
    the prior is kept), and `--read` prints what the data set's classifier reads in each."""
    from dcgan_cli import sample
    from dcgan_cli.core.model import z_from_seeds

    itself = sample(concept_run, [0, 1], around=7, radius=0.0).images()
    assert torch.equal(itself[0], sample(concept_run, [7]).images()[0]) and torch.equal(itself[0], itself[1])
    from dcgan_cli.core.checkpoint import load_checkpoint as dc_load
    from dcgan_cli.core.generation import z_around

    cfg = dc_load(concept_run).model_config
    z = z_around(cfg, 7, list(range(2000)), 0.3)
    assert abs(float(z.std()) - 1.0) < 0.05  # still a draw of the prior
    assert float((z - z_from_seeds(cfg, [7])).norm(dim=1).mean()) < 0.35 * float(z.norm(dim=1).mean())
    r = invoke(runner, "sample", concept_run, "--seeds", "0-3", "--around", "7", "--radius", "0.2", "--read",
               "--out", tmp_path / "near.png", "--device", "cpu")
    assert r.exit_code == 0, r.output
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("seed ")]
    assert len(lines) == 4 and all(any(c in ln for c in ("circle", "square", "triangle")) for ln in lines)
    assert "steps of radius 0.2 around seed 7" in r.stdout and (tmp_path / "near.png").is_file()
    bad = invoke(runner, "sample", concept_run, "--around", "7", "--radius", "1.5", "--device", "cpu")
    assert bad.exit_code == 2 and "--radius must be 0 to 1" in bad.output


def test_samples_asked_for_by_what_they_show(concept_run, runner, tmp_path):
    """`sample --label "red square"`: the first seeds whose samples the classifier reads so, said with their
    share of the seeds searched; the labels of the seeds are cached, so a second ask reads them."""
    from dcgan_cli.core.model import z_from_seeds

    from .conftest import concept_attributes

    before = set((concept_run / "concepts").glob("*-seeds-*.safetensors"))  # other tests' (other truncations)
    r = invoke(runner, "sample", concept_run, "--label", "red square", "--n", "32", "--out", tmp_path / "rs.png",
               "--device", "cpu")
    assert r.exit_code == 0, r.output
    share = re.search(r"samples read as red square \(80% sure or more\): ([\d,]+) of seeds 0-4,095 \(([\d.]+)%\)", r.stdout)
    truth = concept_attributes(z_from_seeds(_cfg(concept_run), list(range(4096))))
    drawn = 100 * float(((truth[0] == 1) & (truth[1] == 0)).mean())  # what G draws there, by construction: ~8%
    assert share and drawn / 2 < float(share.group(2)) < 2 * drawn, (drawn, r.stdout)
    seeds = [int(s) for s in re.search(r"--seeds ([\d,]+)", r.stdout).group(1).split(",")]
    assert len(seeds) == 32 and seeds == sorted(seeds) and Image.open(tmp_path / "rs.png").size[0] > 0
    shape, colour, _ = concept_attributes(z_from_seeds(_cfg(concept_run), seeds))
    # what G drew for those seeds, by construction (its shapes are ambiguous near the argmax's edges: the
    # classifier reads ~73% of them as built), against a third and a quarter by chance
    assert (shape == 1).mean() >= 0.5 and (colour == 0).mean() >= 0.75, (shape, colour)
    cache = set((concept_run / "concepts").glob("*-seeds-*.safetensors"))
    assert len(cache - before) <= 1 and cache  # at most this truncation's labels are new (others' tests leave theirs)
    stamps = {p: p.stat().st_mtime_ns for p in cache}
    again = invoke(runner, "sample", concept_run, "--label", "large blue", "--n", "4", "--format", "npz",
                   "--out", tmp_path / "lb.npz", "--device", "cpu")
    assert again.exit_code == 0 and "samples read as large blue" in again.stdout, again.output
    assert {p: p.stat().st_mtime_ns for p in cache} == stamps  # read from the cache, not labelled again


def _cfg(run):
    from dcgan_cli.core.checkpoint import load_checkpoint

    return load_checkpoint(run).model_config


@pytest.mark.parametrize("args, fragment", [
    (["--label", "red - square"], "not an expression"),
    (["--label", "purple"], "unknown concept word 'purple'"),
    (["--label", "circle square"], "names two of circle, square, triangle"),
    (["--label", "red", "--seeds", "1,2"], "rather than --seeds"),
    (["--label", "red", "--around", "3"], "give one of them"),
    (["--label", ""], "--label is empty: name a kind of sample in this model's words, e.g. one of blue, circle"),
    (["--label", "   "], "--label is empty"),
    (["--label", "green green"], "--label 'green green' names 'green' twice; name it once"),
])
def test_a_label_that_cannot_be_asked_is_one_line(concept_run, runner, args, fragment):
    r = invoke(runner, "sample", concept_run, *args, "--device", "cpu")
    assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output, r.output


@pytest.mark.parametrize("ends, fragment", [
    (["--from", "green green", "--to", "circle"], "--from 'green green' names 'green' twice"),
    (["--from", "3", "--to", "circle square"], "--to 'circle square' names two of circle, square, triangle"),
])
def test_a_walk_s_word_errors_name_the_flag_given(concept_run, runner, ends, fragment):
    r = invoke(runner, "interpolate", concept_run, *ends, "--device", "cpu")
    assert r.exit_code == 2 and fragment in r.output and "--label" not in r.output, r.output


def test_no_sample_sure_enough_says_which_bar_they_missed(tiny_run, runner):
    r = invoke(runner, "sample", tiny_run, "--label", "red", "--n", "2", "--device", "cpu")
    assert r.exit_code == 1 and "reads as 'red' 80% sure or more (the bar a sample must pass" in r.output, r.output
    assert "likeliest reading, sure or not" in r.output


def test_a_walk_from_a_class_to_a_class(concept_run, runner, tmp_path):
    """`interpolate --from circle --to triangle --rows 2`: row i from the i-th circle seed to the i-th triangle seed."""
    from dcgan_cli import interpolate
    from dcgan_cli.core.model import z_from_seeds
    from dcgan_cli.core.seeds import Label

    from .conftest import concept_attributes

    walk = interpolate(concept_run, pairs=[(Label("circle", i), Label("triangle", i)) for i in range(2)], steps=3)
    starts, ends = [row[0] for row in walk.seeds], [row[1] for row in walk.seeds]
    assert len(set(starts)) == 2 and len(set(ends)) == 2
    cfg = _cfg(concept_run)
    assert list(concept_attributes(z_from_seeds(cfg, starts))[0]) == [0, 0]
    assert list(concept_attributes(z_from_seeds(cfg, ends))[0]) == [2, 2]
    assert any("samples read as circle" in n for n in walk.notes)
    _, names = walk.legs()  # the rows are named by the words asked, with the seeds found
    assert names == [f"circle (seed {a}) -> triangle (seed {b})" for a, b in zip(starts, ends)]
    assert walk.default_name() == "circle-triangle-rows2-slerp-3.png"
    r = invoke(runner, "interpolate", concept_run, "--from", "circle", "--to", "7", "--rows", "2", "--steps", "3",
               "--out", tmp_path / "w.png", "--device", "cpu")
    assert r.exit_code == 0 and "samples read as circle" in r.stdout and (tmp_path / "w.png").is_file(), r.output


def test_the_ends_of_a_walk_between_words_are_two_samples_each_showing_its_own_word(concept_run):
    """From 'circle' to 'large': a circle that is not large to a large shape that is not a circle, never one
    seed twice; from 'circle' to 'circle': two different circles."""
    from dcgan_cli import interpolate
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.core.model import z_from_seeds
    from dcgan_cli.core.seeds import Label
    from dcgan_cli.latent.labelled import seeds_showing

    from .conftest import concept_attributes

    walk = interpolate(concept_run, pairs=[(Label("circle"), Label("large"))], steps=3)
    (a, b), = walk.seeds
    c = load_checkpoint(concept_run)
    circles, larges = seeds_showing(c, "circle", 100), seeds_showing(c, "large", 100)  # the classifier's readings
    assert a != b and a in circles.seeds and larges.leans(a) is False and b in larges.seeds and circles.leans(b) is False
    assert walk.default_name() == "circle-large-slerp-3.png" and any("ends used: seed" in n for n in walk.notes)
    walk = interpolate(concept_run, pairs=[(Label("circle"), Label("circle"))], steps=3)
    (a, b), = walk.seeds
    assert a != b and list(concept_attributes(z_from_seeds(_cfg(concept_run), [a, b]))[0]) == [0, 0]


def test_a_truncated_grid_says_its_psi_on_the_picture(tiny_run):
    """A --trunc grid carries a title band naming psi; an untruncated one does not."""
    from dcgan_cli import sample

    plain, truncated = sample(tiny_run, [0, 1, 2, 3]), sample(tiny_run, [0, 1, 2, 3], trunc=0.7)
    assert truncated.title() == "truncation psi 0.7" and plain.title() is None
    assert truncated.figure().height > plain.figure().height and truncated.figure().width == plain.figure().width
