import json
import shutil
import struct

import pytest
import torch
from safetensors.torch import save_file

from dcgan_cli.core import checkpoint as ck
from dcgan_cli.core.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint, save_checkpoint

from .conftest import forge_checkpoint, invoke


def _newest(run):
    return resolve_checkpoint(run)


def _rewrite(path, tensors, meta):
    forge_checkpoint(path, tensors, meta)


def test_loader_resolves_file_folder_and_default(tiny_run, monkeypatch):
    newest = _newest(tiny_run)
    assert newest.name == "step-00000016.safetensors"
    assert load_checkpoint(newest).step == load_checkpoint(tiny_run).step == 16
    monkeypatch.chdir(tiny_run.parent.parent)
    (tiny_run.parent.parent / "runs").mkdir(exist_ok=True)
    shutil.copytree(tiny_run, tiny_run.parent.parent / "runs" / "x", dirs_exist_ok=True)
    assert load_checkpoint(None).step == 16


def test_info_json(tiny_run, runner):
    r = invoke(runner, "info", tiny_run, "--json")
    assert r.exit_code == 0
    info = json.loads(r.output)
    assert info["step"] == 16 and info["model"]["size"] == 32 and info["dataset"]["name"] == "shapes"
    assert info["parameters"]["G"] > 0


def test_round_trip_gives_identical_output(tiny_run):
    c = load_checkpoint(tiny_run)
    z = torch.randn(4, c.model_config.nz)
    with torch.no_grad():
        assert torch.equal(c.generator()(z), load_checkpoint(c.path).generator()(z))


def _bad_files(tiny_run, tmp_path):
    good = _newest(tiny_run)
    c = load_checkpoint(good)
    data = good.read_bytes()
    cases = {}
    p = tmp_path / "text.safetensors"
    p.write_text("hello, I am not a checkpoint at all")
    cases["not a safetensors file"] = p
    p = tmp_path / "truncated.safetensors"
    p.write_bytes(data[: len(data) // 2])
    cases["is truncated"] = p
    p = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.zeros(3)}, str(p))
    cases["not a dcgan-cli checkpoint"] = p
    p = tmp_path / "missing.safetensors"
    _rewrite(p, {k: v for k, v in c.tensors.items() if k != "G/main.0.weight"}, c.meta)
    cases["missing tensors: G/main.0.weight"] = p
    p = tmp_path / "newer.safetensors"
    _rewrite(p, c.tensors, {**c.meta, "format_version": ck.FORMAT_VERSION + 1})
    cases["newer dcgan-cli"] = p
    p = tmp_path / "mismatch.safetensors"
    _rewrite(p, c.tensors, {**c.meta, "model": {**c.meta["model"], "ngf": 16}})
    cases["weights do not match the stored config"] = p
    p = tmp_path / "empty.safetensors"
    p.write_bytes(b"")
    cases["only 0 bytes"] = p
    return cases


def test_every_bad_checkpoint_gets_its_error(tiny_run, tmp_path, runner):
    for message, path in _bad_files(tiny_run, tmp_path).items():
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(path)
        for cmd in (["sample", path, "--device", "cpu", "--out", tmp_path / "x.png"], ["info", path]):
            r = invoke(runner, *cmd)
            assert r.exit_code == 1, (message, r.output)
            assert message in r.output.replace("\n", "") and "Traceback" not in r.output


def test_missing_checkpoint_and_empty_runs(runner, tmp_path):
    r = invoke(runner, "sample", tmp_path / "nope.safetensors")
    assert r.exit_code == 1 and "does not exist" in r.output
    r = invoke(runner, "sample")
    assert r.exit_code == 1 and "no checkpoint found under ./runs" in r.output


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    meta = {"model": {}}
    save_checkpoint(path, {"a": torch.ones(3)}, meta)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    from dcgan_cli.core import files

    monkeypatch.setattr(files.os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"a": torch.zeros(1000)}, meta)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


def test_header_length_is_checked_before_reading(tmp_path):
    p = tmp_path / "huge.safetensors"
    p.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(p)
