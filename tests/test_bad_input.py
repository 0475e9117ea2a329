"""Bad input, faults and abuse: one line naming the problem, exit 2 for usage and 1 for failures,
no traceback, nothing lost, nothing outside the run touched. One test per family, parametrised
over its members; CASES counts every bad input this file tries (the README quotes it)."""

import errno
import gzip
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from dcgan_cli.core import files
from dcgan_cli.core.checkpoint import CheckpointError, load_checkpoint, run_checkpoints, save_checkpoint
from dcgan_cli.core.errors import DcganError
from dcgan_cli.core.runs import RunFolder
from dcgan_cli.data.cache import load_data, to_mode

from .conftest import TINY, StderrLines, forge_checkpoint, invoke, make_mnist, one_line_error, start_training, write_idx


def doctor(tiny_run, tmp_path, name="d.safetensors", **changes):
    """A copy of the tiny checkpoint with metadata changed; a value of ... deletes the key."""
    c = load_checkpoint(tiny_run)
    meta = json.loads(json.dumps(c.meta))
    for path, value in changes.items():
        *parents, last = path.split("__")
        d = meta
        for p in parents:
            d = d[p]
        if value is ...:
            d.pop(last, None)
        else:
            d[last] = value
    p = tmp_path / name
    return forge_checkpoint(p, c.tensors, meta)


# --- data loss and writes outside the run


def test_resume_of_a_file_outside_a_run_writes_nothing_there(tiny_run, runner, tmp_path):
    # A foreign layout: the file's grandparent holds someone's other checkpoints and metrics.
    home = tmp_path / "home"
    (home / "checkpoints").mkdir(parents=True)
    keep = home / "checkpoints" / "step-00000001.safetensors"
    keep.write_bytes(b"precious")
    (home / "metrics.jsonl").write_text('{"step": 999}\n')
    (home / "x").mkdir()
    lone = home / "x" / "model.safetensors"
    lone.write_bytes(load_checkpoint(tiny_run).path.read_bytes())
    r = invoke(runner, "train", "--resume", lone, "--epochs", "3", "--device", "cpu")
    one_line_error(r, 2, "not inside a run folder", "--out")
    assert keep.read_bytes() == b"precious" and (home / "metrics.jsonl").read_text() == '{"step": 999}\n'
    # Into a new folder it continues, and the old files are untouched.
    r = invoke(runner, "train", "--resume", lone, "--epochs", "3", "--out", tmp_path / "new", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert load_checkpoint(tmp_path / "new").step == 24 and keep.read_bytes() == b"precious"


def test_a_run_folder_is_locked_while_a_run_uses_it(runner, tmp_path):
    run = RunFolder(tmp_path / "busy")
    with run.lock():
        r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--out", run.path, *TINY)
        one_line_error(r, 1, "in use by another dcgan run", f"pid {os.getpid()}")
    assert not run_checkpoints(run)
    r = invoke(runner, "train", "--limit", "64", "--max-steps", "1", "--out", run.path, *TINY)
    assert r.exit_code == 0, r.output  # the lock went with the process that held it


@pytest.mark.slow
def test_two_processes_cannot_share_a_run_folder(tmp_path):
    out = tmp_path / "shared"
    cmd = [sys.executable, "-m", "dcgan_cli", "train", "--limit", "512", "--epochs", "30", "--out", str(out), *TINY]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    if not (out / "metrics.jsonl").exists():
        first.kill()
        raise AssertionError(f"the first run wrote no metrics in 120 s: {first.communicate()[1][-2000:]}")
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    assert second.returncode == 1 and "in use by another dcgan run" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr


def test_resuming_a_finished_run_changes_nothing(tiny_run, runner):
    last = load_checkpoint(tiny_run).path
    before, mtime = last.read_bytes(), last.stat().st_mtime_ns
    r = invoke(runner, "train", "--resume", tiny_run, "--device", "cpu")
    one_line_error(r, 2, "already reached step 16 of 16", "--max-steps")
    assert last.read_bytes() == before and last.stat().st_mtime_ns == mtime


def test_stale_temp_files_are_cleaned_on_the_next_run(runner, tmp_path):
    out = tmp_path / "r"
    assert invoke(runner, "train", "--limit", "64", "--epochs", "1", "--out", out, *TINY).exit_code == 0
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    orphans = [out / "checkpoints" / f".step-00000002{files.TEMP_MARK}{dead}.safetensors",
               out / "samples" / f".step-00000002{files.TEMP_MARK}{dead}.png"]
    for o in orphans:
        o.write_bytes(b"x" * 1000)
    mine = out / "checkpoints" / f".other{files.TEMP_MARK}{os.getppid()}.safetensors"
    mine.write_bytes(b"in flight")  # a live writer's temp file stays
    assert invoke(runner, "train", "--resume", out, "--epochs", "2", "--device", "cpu").exit_code == 0
    assert not any(o.exists() for o in orphans) and mine.exists()


@pytest.mark.slow
def test_sigterm_saves_a_resumable_checkpoint(tmp_path):
    run = tmp_path / "run"
    proc = start_training(run, "--epochs", "50", "--limit", "512", *TINY)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "SIGTERM" in stderr and "resume with: dcgan train --resume" in stderr.replace("\n", "")
    assert load_checkpoint(run).step >= 10


@pytest.mark.slow
def test_second_interrupt_aborts_without_saving(tmp_path):
    run = tmp_path / "run"
    # Steps of about a second (in fp32: auto's bf16 is faster where the CPU has it), logged every step.
    # The first Ctrl-C goes just after a step's line (so it lands inside the next step, not at its
    # boundary, where it would save at once); the second as soon as the child says it is stopping,
    # while that step still runs. Each waits for what the child reports, so a loaded machine only slows it.
    proc = start_training(run, "--limit", "4096", "--batch-size", "1024", "--log-every", "1", "--precision", "fp32",
                          "--device", "cpu")
    err = StderrLines(proc)
    err.wait_for("training: 1/")
    os.kill(proc.pid, signal.SIGINT)
    err.wait_for("stopping (Ctrl-C)")
    os.kill(proc.pid, signal.SIGINT)
    stderr = err.rest()
    assert proc.returncode == 130, stderr
    assert "aborting without saving" in stderr and "Traceback" not in stderr


# --- wrong results with exit 0


def test_flags_beat_the_toml_file(runner, tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('[train]\ndataset = "mnist"\nbatch_size = 16\n[model]\nngf = 16\n')
    r = invoke(runner, "train", "--config", cfg, "--dataset", "shapes", "--ngf", "8", "--ndf", "8", "--limit", "32",
               "--max-steps", "1", "--device", "cpu", "--out", tmp_path / "r")
    assert r.exit_code == 0, r.output
    c = load_checkpoint(tmp_path / "r")
    assert c.train_config.dataset == "shapes" and c.model_config.ngf == 8 and c.train_config.batch_size == 16


@pytest.mark.parametrize(
    "text, fragment",
    [
        ('[model]\nbatch_norm = "no"\n', "[model] batch_norm must be true or false, got 'no'"),
        ("[model]\nnz = 8.5\n", "[model] nz must be a whole number, got 8.5"),
        ("[model]\nnz = 8.0\n", "[model] nz must be a whole number"),
        ('[train]\nlr = "fast"\n', "[train] lr must be a number, got 'fast'"),
        ("[train]\nlr = nan\n", "[train] lr must be a finite number"),
        ("[train]\nlr = inf\n", "[train] lr must be a finite number"),
        ("[train]\nchannels_last = 1\n", "[train] channels_last must be true or false"),
        ("[model]\nz_dist = 3\n", "[model] z_dist must be text"),
        ('[train]\ndataset = "imagenet"\n', "unknown data set 'imagenet'"),
        ("model = 3\n", "model must be a table"),
        ("[optim]\nlr = 1\n", "unknown table [optim]"),
        ("[model]\ncolour = 1\n", "[model] has no setting 'colour'"),
        ("[model\n", "is not valid TOML"),
    ],
)
def test_toml_values_must_have_the_fields_type(runner, tmp_path, text, fragment):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    r = invoke(runner, "train", "--config", cfg, "--max-steps", "1", *TINY, "--out", tmp_path / "r")
    one_line_error(r, 2, fragment)
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.parametrize("kind", ["latin1", "folder", "missing"])
def test_unreadable_toml_files(runner, tmp_path, kind):
    p = tmp_path / "x.toml"
    if kind == "latin1":
        p.write_bytes('[model]\n# caf\xe9\n'.encode("latin-1"))
    elif kind == "folder":
        p.mkdir()
    r = invoke(runner, "train", "--config", p, "--max-steps", "1", *TINY)
    one_line_error(r, 2, "--config", {"latin1": "not UTF-8", "folder": "is a folder", "missing": "does not exist"}[kind])


@pytest.mark.parametrize(
    "mode, make, expect",
    [
        ("I;16", lambda: Image.fromarray(np.full((8, 8), 32896, np.uint16)), 128),  # 16-bit mid-grey
        ("I", lambda: Image.fromarray(np.full((8, 8), 65535, np.int32)), 255),
        ("I (8-bit values)", lambda: Image.fromarray(np.full((8, 8), 100, np.int32)), 100),
        ("F", lambda: Image.fromarray(np.full((8, 8), 0.5, np.float32)), 128),
        ("LA", lambda: Image.fromarray(np.dstack([np.full((8, 8), 200, np.uint8), np.full((8, 8), 0, np.uint8)]), "LA"), 0),
        ("P+transparency", lambda: _palette_with_transparency(), 0),
        ("CMYK", lambda: Image.new("CMYK", (8, 8), (0, 0, 0, 0)), 255),
        ("1", lambda: Image.new("1", (8, 8), 1), 255),
        ("RGBA half", lambda: Image.new("RGBA", (8, 8), (200, 100, 50, 128)), (100, 50, 25)),
    ],
)
def test_every_pil_mode_converts_correctly(mode, make, expect):
    img = make()
    grey = np.asarray(to_mode(img, 1))
    rgb = np.asarray(to_mode(img, 3))
    assert grey.dtype == np.uint8 and rgb.shape == (8, 8, 3)
    if isinstance(expect, tuple):
        assert np.abs(rgb[0, 0].astype(int) - expect).max() <= 1
    else:
        assert abs(int(grey[0, 0]) - expect) <= 1, (mode, grey[0, 0])


def _palette_with_transparency():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 255, 255] + [0, 0, 0] * 255)
    img.info["transparency"] = 0
    return img


def test_a_16_bit_grey_folder_is_not_white(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((32, 32), 20000 + i, np.uint16)).save(folder / f"{i}.png")
    d = load_data("folder", 32, root=folder, cache_root=tmp_path / "c")
    assert d.channels == 1 and 70 < d.images.mean() < 85  # 20000 / 257 = 77.8


def test_replaced_mnist_files_are_read_again(tmp_path):
    root = tmp_path / "flat"
    root.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(root / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz=True)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, gz=True)
    a = np.array(load_data("mnist", 28, root=root, cache_root=tmp_path / "c").images)
    time.sleep(0.01)
    write_idx(root / "train-images-idx3-ubyte", np.zeros((20, 28, 28)), gz=True)
    b = np.array(load_data("mnist", 28, root=root, cache_root=tmp_path / "c").images)
    assert a.any() and not b.any()


def test_newest_checkpoint_is_chosen_by_step_not_time(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "r"
    shutil.copytree(tiny_run, run)
    older = run / "checkpoints" / "step-00000008.safetensors"
    os.utime(older, (time.time() + 100, time.time() + 100))  # touched last
    assert load_checkpoint(run).step == 16


def test_json_never_holds_nan_or_infinity(tmp_path):
    with pytest.raises(DcganError, match="non-finite"):
        files.write_json(tmp_path / "x.json", {"a": [1.0, float("nan")]})
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("model__z_scale", "Infinity", "unreadable dcgan-cli metadata"),
        ("metrics__loss_d", "NaN", "unreadable dcgan-cli metadata"),
    ],
)
def test_non_finite_metadata_is_refused(tiny_run, tmp_path, field, value, fragment):
    c = load_checkpoint(tiny_run)
    raw = json.dumps(c.meta).replace('"z_scale": 1.0', '"z_scale": Infinity').replace('"loss_d": ', '"loss_d": NaN, "x": ')
    p = tmp_path / "nf.safetensors"
    forge_checkpoint(p, c.tensors, raw_meta=raw)
    with pytest.raises(CheckpointError, match=fragment):
        load_checkpoint(p)


# --- tracebacks turned into clean errors: checkpoint metadata


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({"model__ngf": 1e400}, "unreadable dcgan-cli metadata"),  # json.dumps writes Infinity
        ({"model__ngf": 100.5}, "model.ngf must be a whole number"),
        ({"model__ngf": 8.0}, "model.ngf must be a whole number"),
        ({"model__size": "32"}, "model.size must be a whole number"),
        ({"model__batch_norm": "yes"}, "model.batch_norm must be true or false"),
        ({"model": [1, 2]}, "model"),
        ({"model": ...}, "model"),
        ({"train__lr": "fast"}, "train.lr must be a number"),
        ({"train": "x"}, "train"),
        ({"dataset": [1]}, "dataset must be an object"),
        ({"dataset__label_names": [1, 2]}, "dataset.label_names must be a list of names"),
        ({"dataset__label_names": "circle"}, "dataset.label_names must be a list of names"),
        ({"dataset__root": 5}, "dataset.root must be text"),
        ({"dataset__groups": [["a"], 3]}, "dataset.groups"),
        ({"step": -1}, "step must be a whole number"),
        ({"step": 4.0}, "step must be a whole number"),
        ({"epoch": "2"}, "epoch must be a whole number"),
        ({"metrics": {"loss_d": "low"}}, "metrics must map names to finite numbers"),
        ({"format_version": "1"}, "format_version '1'"),
        ({"format_version": 1.5}, "format_version 1.5"),
        ({"opt_g_groups": {"lr": 1}}, "opt_g_groups must be a list"),
    ],
)
def test_metadata_of_wrong_type_is_one_line(tiny_run, tmp_path, runner, changes, fragment):
    p = doctor(tiny_run, tmp_path, **changes)
    with pytest.raises(CheckpointError, match=None) as e:
        load_checkpoint(p)
    assert fragment in str(e.value)
    one_line_error(invoke(runner, "info", p), 1, fragment)


def test_malformed_tensor_offsets_are_one_line(tiny_run, tmp_path):
    good = load_checkpoint(tiny_run).path.read_bytes()
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8 : 8 + n])
    name = next(k for k in header if k != "__metadata__")
    for bad in ([5, 2], ["a", 3], [1], None, [0, -1]):
        h = dict(header)
        h[name] = {**h[name], "data_offsets": bad}
        raw = json.dumps(h).encode()
        p = tmp_path / "off.safetensors"
        p.write_bytes(struct.pack("<Q", len(raw)) + raw + good[8 + n :])
        with pytest.raises(CheckpointError, match="malformed header entry|truncated|could not be read"):
            load_checkpoint(p)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["model", "train", "dataset", "epoch", "step", "metrics", "opt_g_groups", "format_version",
          "model__size", "model__nz", "model__z_scale", "model__g_act", "train__lr", "train__epochs", "train__seed",
          "dataset__name", "dataset__label_names", "dataset__groups", "dataset__cache"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_metadata_fuzz_never_tracebacks(tiny_run, tmp_path, field, value):
    p = doctor(tiny_run, tmp_path, name="fuzz.safetensors", **{field: value})
    try:
        c = load_checkpoint(p)
    except CheckpointError:
        return
    c.generator()  # whatever loads must also build


# --- output paths


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--out", "{tmp}"], 2, "is a folder"),
        (["--out", "{tmp}/grid"], 2, "needs a picture extension"),
        (["--out", "{tmp}/grid.xyz"], 2, "needs a picture extension"),
        (["--individual", "{tmp}/file.txt", "--out", "{tmp}/g.png"], 2, "--individual"),
        (["--nrow", "0", "--out", "{tmp}/g.png"], 2, "--nrow must be at least 1"),
    ],
)
def test_bad_output_paths(tiny_run, runner, tmp_path, args, code, fragment):
    (tmp_path / "file.txt").write_text("x")
    r = invoke(runner, "sample", tiny_run, "--n", "2", "--device", "cpu", *[a.format(tmp=tmp_path) for a in args])
    one_line_error(r, code, fragment)


@pytest.mark.parametrize(
    "err, fragment", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")]
)
def test_write_failures_are_one_line_and_leave_no_temp(tiny_run, runner, tmp_path, monkeypatch, err, fragment):
    def fail(*a, **k):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(files.os, "replace", fail)
    r = invoke(runner, "sample", tiny_run, "--n", "2", "--device", "cpu", "--out", tmp_path / "g.png")
    one_line_error(r, 1, fragment)
    assert list(tmp_path.iterdir()) == []


def test_train_out_that_is_a_file(runner, tmp_path):
    (tmp_path / "f").write_text("x")
    one_line_error(invoke(runner, "train", "--max-steps", "1", "--out", tmp_path / "f", *TINY), 2, "is a file")


# --- data


def test_over_large_images_are_skipped_in_a_folder_and_refused_as_query(tiny_run, runner, tmp_path, monkeypatch):
    folder = tmp_path / "f"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (40, 40), (i * 50, 0, 0)).save(folder / f"{i}.png")
    Image.new("RGB", (400, 400)).save(folder / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    r = invoke(
        runner, "data", "prepare", "--dataset", "folder", "--data-root", folder, "--size", "32", "--cache-dir", tmp_path / "c"
    )
    assert r.exit_code == 0 and "skipped 1 unreadable or over-large" in r.output, r.output
    r = invoke(runner, "nn-search", tiny_run, "--query", folder / "big.png", "--device", "cpu")
    one_line_error(r, 2, "too large to decode safely")


def _prepared(tmp_path):
    """A private copy of the session's prepared shapes cache, to damage (drawing it anew takes a second)."""
    shared = load_data("shapes", 32).cache_dir
    return Path(shutil.copytree(shared, tmp_path / "c" / shared.name))


@pytest.mark.parametrize(
    "damage, fragment",
    [
        (lambda d: (d / "images.u8").write_bytes(b"\0" * 100), "is damaged (images.u8 has 100 bytes"),
        (lambda d: (d / "labels.npy").write_bytes(b"garbage"), "damaged labels.npy"),
        (lambda d: np.save(d / "labels.npy", np.zeros((3, 9), np.uint8)), "damaged labels.npy"),
        (lambda d: (d / "manifest.json").write_text("{not json"), "manifest"),
        (lambda d: (d / "manifest.json").write_text("[]"), "manifest"),
        (lambda d: (d / "manifest.json").write_text('{"shape": "x"}'), "manifest"),
        (lambda d: (d / "manifest.json").write_text(""), "manifest"),
    ],
)
def test_damaged_caches_are_one_line(tmp_path, damage, fragment):
    from dcgan_cli.data.cache import open_cache

    d = _prepared(tmp_path)
    damage(d)
    with pytest.raises(DcganError, match=None) as e:
        open_cache(d)
    assert fragment in str(e.value)


def test_damaged_caches_rebuild_on_use_and_show_in_data_info(tmp_path, runner):
    d = _prepared(tmp_path)
    (d / "manifest.json").write_text("garbage")
    r = invoke(runner, "data", "info", "--cache-dir", tmp_path / "c")
    assert r.exit_code == 0 and "damaged" in r.output
    assert json.loads(invoke(runner, "data", "info", "--cache-dir", tmp_path / "c", "--json").output)[0]["damaged"]
    assert load_data("shapes", 32, cache_root=tmp_path / "c").images.shape[0] == 8192  # stale: rebuilt


@pytest.mark.parametrize(
    "write, fragment",
    [
        (lambda raw: (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all"), "could not be read"),
        (
            lambda raw: (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x03garbage")),
            "could not be read",
        ),
        (lambda raw: write_idx(raw / "train-labels-idx1-ubyte", np.arange(7) % 10, gz=True), "could not be read"),
    ],
)
def test_broken_idx_files_are_one_line(tmp_path, runner, write, fragment):
    make_mnist(tmp_path / "m", gz=True)
    raw = tmp_path / "m" / "MNIST" / "raw"
    write(raw)
    r = invoke(
        runner,
        "data",
        "prepare",
        "--dataset",
        "mnist",
        "--size",
        "28",
        "--data-root",
        tmp_path / "m",
        "--cache-dir",
        tmp_path / "c",
    )
    one_line_error(r, 1, fragment)


@pytest.mark.parametrize("workers", ["-1", "0"])
def test_bad_worker_counts(runner, tmp_path, workers):
    r = invoke(
        runner, "data", "prepare", "--dataset", "shapes", "--size", "32", "--workers", workers, "--cache-dir", tmp_path / "c"
    )
    one_line_error(r, 2, "--workers must be 1 to")


# --- resources: a small input must not ask for unbounded memory or time


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["sample", "{run}", "--seeds", "0-100000000"], "at most 100,000"),
        (["sample", "{run}", "--seeds", "18446744073709551616"], "seeds go up to"),
        (["sample", "{run}", "--n", "100000000"], "--n must be 1 to"),
        (["interpolate", "{run}", "--steps", "100000"], "more than 10,000 frames"),
        (["interpolate", "{run}", "--through", "1,2,3", "--steps", "9000"], "at most 10,000"),
        (["interpolate", "{run}", "--rows", "100000"], "--rows must be 1 to 1000"),
        (["interpolate", "{run}", "--from", "-5"], "--from and --to must be seeds"),
        (["nn-search", "{run}", "--chunk-size", "-1", "--holdout", "0"], "--chunk-size must be at least 1"),
        (["nn-search", "{run}", "--k", "0", "--holdout", "0"], "--k 0 is out of range"),
        (["nn-search", "{run}", "--holdout", "-3"], "--holdout must be 0 to"),
        (["arithmetic", "{run}", "a", "--define", "a=1", "--variants", "100000"], "--variants must be 0 to 1024"),
        (["arithmetic", "{run}", "1e400 a", "--define", "a=1"], "the coefficient inf of 'a' is out of range"),
        (["arithmetic", "{run}", "99999999999999999999 a", "--define", "a=1"], "out of range"),
        (["train", "--nz", "100000000", "--max-steps", "1"], "--nz must be 1 to"),
        (["train", "--ngf", "1000000", "--max-steps", "1"], "--ngf must be 1 to"),
        (["train", "--ngf", "4096", "--ndf", "4096", "--size", "128", "--max-steps", "1"], "billion parameters"),
        (["train", "--seed", "-1", "--max-steps", "1"], "--seed must be 0 to"),
        (["train", "--batch-size", "1", "--max-steps", "1"], "--batch-size must be 2 to"),
        (["train", "--z-scale", "0", "--max-steps", "1"], "--z-scale must be above 0"),
    ],
)
def test_resource_bounds(tiny_run, runner, args, fragment):
    r = invoke(runner, *[a.format(run=tiny_run) for a in args], "--device", "cpu")
    one_line_error(r, 2, fragment)


# --- files that are not what they say


def test_a_fifo_as_checkpoint_does_not_hang(runner, tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    one_line_error(invoke(runner, "info", fifo), 1, "not a regular file")


def test_a_symlink_loop_is_named(runner, tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    a.symlink_to(b)
    b.symlink_to(a)
    one_line_error(invoke(runner, "info", a), 1, "symbolic link loop")


# --- a checkpoint from a stranger is data, never a pointer


def test_doctored_paths_are_never_followed(tiny_run, runner, tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    secret.mkdir()
    for i in range(60):
        Image.new("RGB", (32, 32), (255, i, 0)).save(secret / f"s{i}.png")
    elsewhere = tmp_path / "attacker-cache"
    stolen = load_data("folder", 32, root=secret, cache_root=elsewhere)  # a cache the user never made
    p = doctor(tiny_run, tmp_path, dataset__name="folder", dataset__root=str(secret), dataset__cache=str(stolen.cache_dir),
               dataset__fingerprint=stolen.fingerprint)
    for cmd in (["nn-search", p, "--n", "1", "--holdout", "0"], ["arithmetic", p, "circle"]):
        r = invoke(runner, *cmd, "--device", "cpu", "--out", tmp_path / "leak.png")
        one_line_error(r, 1, "not prepared in the cache", "--data-root")
        assert not (tmp_path / "leak.png").exists()
    r = invoke(runner, "train", "--resume", p, "--epochs", "9", "--out", tmp_path / "r2", "--device", "cpu")
    one_line_error(r, 1, "not prepared in the cache")
    # Pointed at by the user, the same folder is fine.
    r = invoke(
        runner,
        "nn-search",
        p,
        "--n",
        "1",
        "--holdout",
        "0",
        "--data-root",
        secret,
        "--device",
        "cpu",
        "--out",
        tmp_path / "ok.png",
    )
    assert r.exit_code == 0, r.output


def test_save_refuses_nan_in_metadata(tmp_path):
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "c.safetensors", {"a": torch.ones(1)}, {"model": {}, "metrics": {"x": float("nan")}})


def test_a_fifo_as_config_does_not_hang(runner, tmp_path):
    fifo = tmp_path / "run.toml"
    os.mkfifo(fifo)
    one_line_error(invoke(runner, "train", "--config", fifo, "--max-steps", "1", *TINY), 2, "not a regular file")


def test_half_built_caches_of_dead_processes_are_removed(tmp_path):
    dead = 2**22 + 54321
    orphan = tmp_path / "c" / f".shapes-train-32px-x{files.TEMP_MARK}{dead}"
    orphan.mkdir(parents=True)
    (orphan / "images.u8").write_bytes(b"\0" * 4096)
    load_data("shapes", 32, cache_root=tmp_path / "c")
    assert not orphan.exists()
