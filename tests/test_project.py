"""`dcgan project`: your own images into the latent space, and the latent commands that take them."""

import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import dcgan_cli as dc
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.pixels import to_hwc_uint8
from dcgan_cli.projection.optimise import random_candidates
from dcgan_cli.projection.project import project
from dcgan_cli.projection.zfiles import load_latents

from .conftest import invoke


def _pictures_of_g(run, seeds, folder):
    """PNGs of G's own samples (so a z that draws each exists): what a person would bring."""
    folder.mkdir(exist_ok=True)
    images = dc.sample(run, seeds).images()
    paths = []
    for s, a in zip(seeds, to_hwc_uint8(images)):
        Image.fromarray(a).save(folder / f"seed{s}.png")
        paths.append(folder / f"seed{s}.png")
    return paths


@pytest.fixture(scope="module")
def own(tiny_run, tmp_path_factory):
    return _pictures_of_g(tiny_run, [3, 4, 5], tmp_path_factory.mktemp("own"))


def test_projection_finds_what_g_drew_far_closer_than_random_z(concept_run, tmp_path):
    # concept_run's G draws a different shape, colour and size for each z: pictures of its own
    # samples have a z that draws them exactly; the best of 512 random z draws something else
    pictures = _pictures_of_g(concept_run, [31, 32, 33], tmp_path / "in")
    r = project(concept_run, pictures, steps=200)
    c = load_checkpoint(concept_run)
    _, best_random = random_candidates(c.generator(), r.targets, 512, 1, 0)
    assert (r.found.pixel_mse < 0.5 * best_random[:, 0]).all(), (r.found.pixel_mse, best_random)


def test_projection_files_and_the_z_file_round_trip(tiny_run, own, tmp_path):
    r = project(tiny_run, own, steps=20)
    assert r.found.z.shape == (3, 100) and r.found.images.shape == (3, 3, 32, 32)
    G = load_checkpoint(tiny_run).generator()
    written = r.write(tmp_path / "out")
    names = {p.name for p in written}
    for n in ("seed3", "seed4", "seed5"):
        assert {f"{n}-projection.png", f"{n}-reconstruction.png", f"{n}.z.safetensors"} <= names
    assert Image.open(tmp_path / "out" / "seed3-reconstruction.png").size == (32, 32)
    assert Image.open(tmp_path / "out" / "seed3-projection.png").size[0] >= 3 * 128  # target, reconstruction, difference
    z = load_latents(tmp_path / "out" / "seed4.z.safetensors", nz=100, fingerprint=r.fingerprint, flag="--from")
    with torch.no_grad():
        again = G(z.z)
    assert torch.allclose(again, r.found.images[1:2], atol=1e-5)  # the file is the z the picture came from
    rep = json.loads((tmp_path / "out" / "projection.json").read_text())
    assert [i["name"] for i in rep["images"]] == ["seed3", "seed4", "seed5"]
    assert rep["images"][0]["pixel_mse"] == pytest.approx(float(r.found.pixel_mse[0]))


def test_project_command_writes_into_the_run_folder_and_is_repeatable(tiny_run, own, runner):
    r = invoke(runner, "project", tiny_run, *own[:2], "--steps", "30", "--device", "cpu")
    assert r.exit_code == 0, r.output
    folder = next((tiny_run / "project").glob("step-*-seed3-and-1-more"))
    first = json.loads((folder / "projection.json").read_text())
    assert "seed3: pixel MSE" in r.stdout and "no encoder for this generator yet" in r.stdout
    r = invoke(runner, "project", tiny_run, *own[:2], "--steps", "30", "--device", "cpu")
    assert json.loads((folder / "projection.json").read_text())["images"][0]["pixel_mse"] == first["images"][0]["pixel_mse"]
    (folder / "a-file").write_text("")
    r = invoke(runner, "project", tiny_run, *own[:2], "--out", folder / "a-file", "--device", "cpu")
    assert r.exit_code == 2 and "is a file; give a folder" in r.output and "projecting" not in r.output


def test_an_encoder_is_trained_once_then_used(tiny_run, own, runner, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run, ignore=shutil.ignore_patterns("project", "encoders"))
    r = invoke(runner, "project", run, own[0], "--steps", "0", "--device", "cpu", "--out", tmp_path / "a")
    assert r.exit_code == 2 and "--train-encoder" in r.output
    r = invoke(runner, "project", run, own[0], "--steps", "10", "--train-encoder", "--encoder-steps", "20",
               "--device", "cpu", "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    assert "encoder trained on G's samples and shapes's real images" in r.stdout
    assert len(list((run / "encoders").glob("*.safetensors"))) == 1
    r = invoke(runner, "project", run, own[0], "--steps", "0", "--device", "cpu", "--out", tmp_path / "c")
    assert r.exit_code == 0 and "by encoder alone" in r.stdout and "encoder trained" not in r.stdout
    assert json.loads((tmp_path / "c" / "projection.json").read_text())["images"][0]["started_from"] == "encoder"


@pytest.mark.parametrize("case,fragment", [
    ("none", "give at least one image to project"),
    ("text", "is not a readable image"),
    ("tiny", "too small for the model's 32x32"),
    ("missing", "does not exist"),
    ("bomb", "too large to decode safely"),
])
def test_bad_images_are_one_line_and_nothing_is_written(tiny_run, runner, tmp_path, monkeypatch, case, fragment):
    paths = {"none": [], "text": [tmp_path / "t.png"], "tiny": [tmp_path / "s.png"], "missing": [tmp_path / "gone.png"],
             "bomb": [tmp_path / "big.png"]}[case]
    (tmp_path / "t.png").write_text("not a picture")
    Image.new("RGB", (8, 8)).save(tmp_path / "s.png")
    Image.new("RGB", (400, 400)).save(tmp_path / "big.png")
    if case == "bomb":
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    r = invoke(runner, "project", tiny_run, *paths, "--device", "cpu", "--out", tmp_path / "out")
    assert r.exit_code == 2 and fragment in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_grey_and_transparent_images_are_converted_as_the_data_was_and_say_so(tiny_run, tmp_path):
    Image.fromarray(np.full((48, 64), 200, np.uint8), "L").save(tmp_path / "grey.png")
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0], rgba[10:30, 10:30, 3] = 255, 255  # a red square, transparent around it
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    r = project(tiny_run, [tmp_path / "grey.png", tmp_path / "clear.png"], steps=2)
    notes = "\n".join(r.lines())
    assert "grey repeated to RGB: grey.png" in notes and "centre-cropped from 64x48 to a square: grey.png" in notes
    assert "transparent pixels laid over black: clear.png" in notes
    t = r.targets
    assert torch.allclose(t[0, 0], t[0, 1]) and torch.allclose(t[0, 1], t[0, 2])  # grey on every channel
    assert t[1, :, 0, 0].tolist() == [-1.0, -1.0, -1.0] and t[1, 0, 16, 16] == 1.0  # black where it was clear


def test_interpolate_between_an_image_and_a_z_file(tiny_run, own, runner, tmp_path):
    found = project(tiny_run, own[:2], steps=200)
    found.write(tmp_path / "p")
    z_file = tmp_path / "p" / "seed4.z.safetensors"
    r = invoke(runner, "interpolate", tiny_run, "--from", own[0], "--to", z_file, "--steps", "5", "--device", "cpu",
               "--out", tmp_path / "w.png")
    assert r.exit_code == 0, r.output
    assert "from seed3.png to seed4.png (z file)" in r.stdout and "projected into this generator first" in r.stdout
    walk = dc.interpolate(tiny_run, pairs=[(own[0], z_file)], steps=5)
    assert torch.allclose(walk.frames[0, 0], found.found.images[0], atol=1e-5)  # the same projection as `dcgan project`
    assert torch.allclose(walk.frames[0, -1], found.found.images[1], atol=1e-5)  # the z file's own picture
    r = invoke(runner, "interpolate", tiny_run, "--from", own[0], "--to", "3", "--rows", "2", "--device", "cpu")
    assert r.exit_code == 2 and "--rows needs seeds or words at both ends" in r.output


def test_a_z_file_of_another_generator_is_refused(tiny_run, concept_run, own, runner, tmp_path):
    project(concept_run, own[:1], steps=2).write(tmp_path / "other")
    r = invoke(runner, "interpolate", tiny_run, "--from", tmp_path / "other" / "seed3.z.safetensors", "--to", "1",
               "--device", "cpu", "--out", tmp_path / "w.png")
    assert r.exit_code == 2 and "was found for another generator" in r.output and not (tmp_path / "w.png").exists()
    (tmp_path / "fake.z.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    r = invoke(runner, "interpolate", tiny_run, "--from", tmp_path / "fake.z.safetensors", "--device", "cpu")
    assert r.exit_code == 2 and "is not a z file written by `dcgan project`" in r.output


def test_nn_search_project_searches_the_reconstruction_too(tiny_run, own, runner, tmp_path):
    r = invoke(runner, "nn-search", tiny_run, "--query", own[0], "--project", "--k", "2", "--device", "cpu",
               "--out", tmp_path / "nn.png", "--json", tmp_path / "nn.json")
    assert r.exit_code == 0, r.output
    queries = json.loads((tmp_path / "nn.json").read_text())["queries"]
    assert [q.get("reconstruction", False) for q in queries] == [False, True]
    assert "seed3.png (its reconstruction by G):" in r.stdout
    r = invoke(runner, "nn-search", tiny_run, "--n", "2", "--project", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "--project projects --query images" in r.output


def test_arithmetic_starts_from_your_image(concept_run, tmp_path):
    from dcgan_cli.vector_arithmetic.arithmetic import arithmetic

    pictures = _pictures_of_g(concept_run, [11, 12], tmp_path)
    result = arithmetic(concept_run, "red circle - red + blue", anchors=pictures, samples=4096)
    assert len(result.result_images) == 2  # one result per image given
    assert any("2 anchor(s) projected from seed11.png, seed12.png" in line for line in result.lines())
    assert torch.allclose(result.exemplar_images[0][0], dc.sample(concept_run, [11]).images()[0], atol=1 / 127.5)
    with pytest.raises(dc.UsageError, match="--anchor gives the anchored and edit methods"):
        arithmetic(concept_run, "red circle - red + blue", anchors=pictures, method="paper", samples=4096)


def test_the_numbers_come_with_their_scale_and_a_foreign_background_is_named(concept_run, tmp_path):
    # held-out real shapes projected the same way give the scale; a picture on a white ground is far from the data's
    pictures = _pictures_of_g(concept_run, [40], tmp_path / "in")
    white = np.full((32, 32, 3), 235, dtype=np.uint8)
    white[8:24, 8:24] = (200, 30, 30)
    Image.fromarray(white).save(tmp_path / "in" / "on-white.png")
    r = project(concept_run, [*pictures, tmp_path / "in" / "on-white.png"], steps=40)
    assert r.scale is not None and r.scale["images"] == 8 and 0 < r.scale["pixel_mse"] < 1
    lines = r.lines()
    assert any(line.startswith("scale: 8 held-out real images projected the same way reach pixel MSE") for line in lines)
    background = [line for line in lines if "background" in line]
    assert len(background) == 1 and background[0].startswith("note: on-white's background"), lines
    assert r.to_dict()["scale"] == r.scale
    again = project(concept_run, pictures, steps=40)  # the reference is cached: the same figures
    assert again.scale == r.scale


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_colour_picture_turned_grey_for_a_grey_model_is_said(tmp_path, suffix):
    """A JPEG's draft decode made it grey before the check, so a colour photo went into a grey model unsaid."""
    from dcgan_cli.data.user_images import load_images

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / f"rgb{suffix}")
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / f"grey{suffix}")
    loaded = load_images([tmp_path / f"rgb{suffix}", tmp_path / f"grey{suffix}"], 64, 1)
    assert loaded.images.shape == (2, 1, 64, 64)
    grey = [n for n in loaded.notes if "colour turned grey" in n]
    assert len(grey) == 1 and f"rgb{suffix}" in grey[0] and f"grey{suffix}" not in grey[0], loaded.notes
