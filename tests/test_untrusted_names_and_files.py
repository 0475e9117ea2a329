"""Names that collide, a full disk, pictures turned by EXIF, doctored z files, bidi controls, strict seeds: what
untrusted names and files do beyond the explorer's trust boundary (test_explore.py)."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_cli.core.results import shown

from .conftest import invoke, one_line_error


def _picture(path, colour=(200, 40, 40), size=(32, 32)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def test_projected_names_are_unique_against_every_input(tiny_run, runner, tmp_path):
    a = _picture(tmp_path / "a" / "x.png", (200, 40, 40))
    b = _picture(tmp_path / "b" / "x.png", (40, 200, 40))
    c = _picture(tmp_path / "x-2.png", (40, 40, 200))
    out = tmp_path / "collide"
    r = invoke(runner, "project", tiny_run, a, b, c, "--steps", "1", "--starts", "1", "--out", out,
               "--json", tmp_path / "report.json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    zfiles = sorted(p.name for p in out.glob("*.z.safetensors"))
    assert len(zfiles) == 3 and len(set(zfiles)) == 3, zfiles
    listed = json.loads((out / "projection.json").read_text())["images"]
    assert sorted(x["name"] for x in listed) == ["x", "x-2", "x-3"] and len({x["source"] for x in listed}) == 3
    assert json.loads((tmp_path / "report.json").read_text())  # --json is a report file, not a picture


def test_an_empty_expression_is_refused_and_probe_is_how_to_ask_for_the_probe(tiny_run, runner):
    r = invoke(runner, "arithmetic", "--ckpt", tiny_run, "", "--device", "cpu")
    one_line_error(r, 2, "the expression is empty")


def test_too_many_terms_are_one_line(tiny_run, runner):
    expr = " + ".join(["a"] * 13)
    r = invoke(runner, "arithmetic", tiny_run, expr, "--define", "a=1", "--device", "cpu")
    one_line_error(r, 2, "13 terms", "at most 12")


def test_an_anchor_method_s_error_names_the_method_asked(concept_run, runner):
    r = invoke(runner, "arithmetic", concept_run, "2 red circle - circle + square", "--method", "boundary", "--device", "cpu")
    one_line_error(r, 2, "--method boundary starts from samples of the first term")


def test_a_doctored_z_file_far_off_the_prior_is_refused(tiny_run, runner, tmp_path):
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.projection.zfiles import generator_fingerprint, save_latents

    c = load_checkpoint(tiny_run)
    fp = generator_fingerprint(c.generator())
    far = save_latents(tmp_path / "far.z.safetensors", torch.full((1, c.model_config.nz), 1e30), fingerprint=fp)
    r = invoke(runner, "interpolate", tiny_run, "--from", far, "--to", "3", "--out", tmp_path / "w.png", "--device", "cpu")
    one_line_error(r, 2, "far.z.safetensors holds z of norm", "project the image again")
    # the limit is the one the message states, 100x this prior's typical |z| (it was 10,000x under a "100x" message)
    nz = c.model_config.nz
    for times, refused in ((1000, True), (150, True), (50, False)):
        z = torch.full((1, nz), 1.0) * times  # norm = times * sqrt(nz), the prior's typical |z| times `times`
        path = save_latents(tmp_path / f"x{times}.z.safetensors", z, fingerprint=fp)
        r = invoke(runner, "interpolate", tiny_run, "--from", path, "--to", "3", "--out", tmp_path / "w.png", "--device", "cpu")
        assert (r.exit_code == 2) is refused, (times, r.output)
        if refused:
            assert f"{times:,}x this generator's typical |z|" in r.output and "at most 100x" in r.output, r.output


def test_a_z_file_of_whole_numbers_is_refused_for_its_type_not_its_shape(tiny_run, runner, tmp_path):
    import json

    from safetensors.torch import save_file

    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.projection.zfiles import META_KEY, generator_fingerprint

    c = load_checkpoint(tiny_run)
    path = tmp_path / "ints.z.safetensors"
    save_file({"z": torch.zeros(1, c.model_config.nz, dtype=torch.int64)}, str(path),
              metadata={META_KEY: json.dumps({"fingerprint": generator_fingerprint(c.generator())})})
    r = invoke(runner, "interpolate", tiny_run, "--from", path, "--to", "3", "--out", tmp_path / "w.png", "--device", "cpu")
    one_line_error(r, 2, "ints.z.safetensors holds z of type int64", "as float32")
    assert "shape" not in r.output


def test_a_z_file_whose_source_has_a_newline_still_draws(tiny_run, runner, tmp_path):
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.projection.zfiles import generator_fingerprint, load_latents, save_latents

    c = load_checkpoint(tiny_run)
    G = c.generator()
    z = torch.randn(1, c.model_config.nz)
    path = save_latents(tmp_path / "nl.z.safetensors", z, fingerprint=generator_fingerprint(G), source="two\nlines\u202e.png")
    assert "\n" not in load_latents(path, nz=c.model_config.nz, fingerprint=generator_fingerprint(G), flag="--from").label
    r = invoke(runner, "interpolate", tiny_run, "--from", path, "--to", "3", "--out", tmp_path / "w.png", "--device", "cpu")
    assert r.exit_code == 0 and (tmp_path / "w.png").exists(), r.output


def test_bidi_and_zero_width_controls_are_shown_escaped():
    assert shown("green\u202etxt.exe") == "green\\u202etxt.exe"
    assert shown("a\u200db\u2066c\ufeff") == "a\\u200db\\u2066c\\ufeff"
    assert shown("café ünï") == "café ünï"  # letters stay letters


@pytest.mark.parametrize("end", ["²", "+-5", "-3", "٣"])
def test_walk_ends_are_ascii_seeds_or_files(tiny_run, runner, tmp_path, end):
    r = invoke(runner, "interpolate", tiny_run, "--from", end, "--to", "1", "--out", tmp_path / "w.png", "--device", "cpu")
    assert r.exit_code == 2 and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_full_disk_while_preparing_is_one_line_and_leaves_nothing(runner, tmp_path, monkeypatch):
    import os

    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    r = invoke(runner, "data", "prepare", "--dataset", "shapes", "--size", "32", "--cache-dir", tmp_path / "c")
    one_line_error(r, 1, "no space left on device", "MB in")
    assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]  # the half-built cache is gone


def test_pictures_are_read_upright_as_exif_says(tmp_path):
    from dcgan_cli.data.user_images import load_images

    # a 64x32 picture, red on the left half, stored with orientation 6 (a viewer turns it 90 degrees clockwise)
    a = np.zeros((32, 64, 3), np.uint8)
    a[:, :32] = (255, 0, 0)
    img = Image.fromarray(a)
    exif = img.getexif()
    exif[0x0112] = 6
    img.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    x = load_images([tmp_path / "turned.jpg"], 32, 3).images[0]  # (3, 32, 32) in [-1, 1]: centre crop of 32x64 upright
    top, bottom = x[0, :8].mean(), x[0, -8:].mean()
    plain = load_images([_picture(tmp_path / "plain.png", (0, 0, 255), (64, 32))], 32, 3).images[0]
    assert plain.shape == x.shape
    # upright, the red half is on top: a crop of the middle rows shows red above and black below
    assert top > bottom + 0.5, (float(top), float(bottom))


def test_a_misspelt_choice_is_answered_with_the_nearest_one(runner, tmp_path):
    r = invoke(runner, "train", "--dataset", "mnsit", "--out", tmp_path / "r")
    one_line_error(r, 2, "'mnsit' is not one of", "did you mean 'mnist'?")
    r = invoke(runner, "train", "--dataset", "zzz", "--out", tmp_path / "r")
    assert "did you mean" not in r.output and r.exit_code == 2


def test_digits_are_the_classes_where_the_labels_are_digits():
    from dcgan_cli.attributes.phrases import ParseError, parse_expression, phrase_constraints, vocabulary
    from dcgan_cli.data.source import DIGITS

    terms = parse_expression("7 - 1 + 0", digit_words=True)
    assert [(t.coef, t.words) for t in terms] == [(1.0, ("7",)), (-1.0, ("1",)), (1.0, ("0",))]
    wants = phrase_constraints(terms, vocabulary("mnist", DIGITS), "mnist")
    assert [max(w, key=w.get) for w in wants] == [7, 1, 0]  # the same columns as seven - one + zero
    mixed = parse_expression("2 7 - 0.5 seven", digit_words=True)
    assert [(t.coef, t.words) for t in mixed] == [(2.0, ("7",)), (-0.5, ("seven",))]
    with pytest.raises(ParseError, match="write digits as words"):
        parse_expression("7 - 1 + 0")  # elsewhere a number is a coefficient


def test_a_killed_projection_s_temp_files_are_cleared_by_the_next(tiny_run, runner, tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "pj"
    out.mkdir()
    orphan = out / f".x-projection.dcgan-tmp-{int(dead.stdout)}.png"
    orphan.write_bytes(b"half a picture")
    r = invoke(runner, "project", tiny_run, _picture(tmp_path / "x.png"), "--steps", "1", "--starts", "1", "--out", out,
               "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert not orphan.exists() and not [p.name for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_a_missing_device_under_nproc_is_said_once_not_once_per_process(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "dcgan_cli", "train", "--dataset", "shapes", "--max-steps", "1", "--nproc", "2",
                        "--device", "mps", "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert r.returncode == 2 and len(errors) == 1 and "MPS is not available" in errors[0], r.stderr
    assert not (tmp_path / "r").exists()


def test_a_video_that_cannot_be_written_is_one_line_not_ffmpeg_s(tmp_path, capfd):
    pytest.importorskip("imageio_ffmpeg")
    from dcgan_cli.core.files import OutputError
    from dcgan_cli.core.images import save_mp4

    # the name fits, its temp name (".NAME.dcgan-tmp-PID.mp4") does not: the folder takes no file of ours,
    # as a read-only one (which a root test cannot make) takes none
    target = tmp_path / ("v" * 236 + ".mp4")
    with pytest.raises(OutputError, match="cannot write video"):
        save_mp4([Image.new("RGB", (16, 16))] * 2, target)
    assert capfd.readouterr().err == "" and not list(tmp_path.iterdir())


def test_a_long_projection_keeps_each_batch_as_it_finishes(tiny_run, runner, tmp_path, monkeypatch):
    from dcgan_cli.projection import optimise

    pictures = [_picture(tmp_path / "in" / f"p{i:02d}.png", (10 * i, 90, 200 - 10 * i)) for i in range(17)]
    real, calls = optimise._project_batch, []

    def second_batch_fails(*args, **kwargs):  # 16 images a batch: the 17th is in the second
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(optimise, "_project_batch", second_batch_fails)
    out = tmp_path / "pj"
    r = invoke(runner, "project", tiny_run, *pictures, "--steps", "1", "--starts", "1", "--out", out, "--device", "cpu")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    kept = sorted(p.name for p in out.glob("*.z.safetensors"))
    assert kept == [f"p{i:02d}.z.safetensors" for i in range(16)]  # the first batch, written when it finished
    assert len(list(out.glob("*-reconstruction.png"))) == 16 and not (out / "projection.json").exists()
