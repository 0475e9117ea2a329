"""What a stranger's files and a crash mid-write can do to a run folder.

Each test fails on the code before this round and says what a user would notice.
"""

import shutil

from dcgan_cli.core.checkpoint import load_checkpoint, run_checkpoints
from dcgan_cli.core.runs import RunFolder

from .conftest import TINY, invoke

QUICK = ["--dataset", "shapes", "--limit", "64", *TINY]  # 2 steps an epoch


def test_pruning_removes_only_this_runs_own_checkpoints(runner, tmp_path):
    other = tmp_path / "other"
    assert invoke(runner, "train", *QUICK, "--epochs", "1", "--out", other).exit_code == 0
    run = tmp_path / "run"
    assert invoke(runner, "train", *QUICK, "--epochs", "1", "--out", run).exit_code == 0
    mine = run / "checkpoints" / "my-notes.safetensors"
    shutil.copy(other / "checkpoints" / "step-00000002.safetensors", mine)  # a user's own file
    foreign = run / "checkpoints" / "step-00000001.safetensors"
    shutil.copy(other / "checkpoints" / "step-00000002.safetensors", foreign)  # another run's, renamed to our pattern
    r = invoke(runner, "train", "--resume", run, "--epochs", "4", "--keep", "1", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert mine.exists() and foreign.exists()  # not ours: never deleted
    assert [p.name for p in run_checkpoints(RunFolder(run))] == ["step-00000008.safetensors"]  # ours: the newest kept


def test_a_temp_file_left_by_a_kill_is_never_the_newest_checkpoint(runner, tmp_path):
    run = tmp_path / "run"
    assert invoke(runner, "train", *QUICK, "--epochs", "1", "--out", run).exit_code == 0
    # What SIGKILL during a checkpoint write leaves: a complete-looking file under a temp name, at a later step.
    later = tmp_path / "later"
    assert invoke(runner, "train", *QUICK, "--epochs", "3", "--out", later).exit_code == 0
    shutil.copy(
        later / "checkpoints" / "step-00000006.safetensors", run / "checkpoints" / ".step-00000006.dcgan-tmp-99999.safetensors"
    )
    (run / "checkpoints" / ".step-00000004.dcgan-tmp-99998.safetensors").write_bytes(b"\0" * 100)  # cut short
    assert load_checkpoint(run).step == 2
    r = invoke(runner, "info", run)
    assert r.exit_code == 0 and "step-00000002" in r.stdout
    r = invoke(runner, "train", "--resume", run, "--epochs", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == 4


def test_a_run_whose_only_file_is_a_temp_starts_afresh(runner, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / ".step-00000002.dcgan-tmp-99999.safetensors").write_bytes(b"\0" * 64)
    (run / "metrics.jsonl").write_text("")
    r = invoke(runner, "train", *QUICK, "--epochs", "1", "--out", run)
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == 2


def test_a_checkpoint_copied_in_from_another_data_set_is_not_resumed(runner, tmp_path):
    from .conftest import make_mnist

    digits = tmp_path / "digits"
    args = ["--dataset", "mnist", "--data-root", make_mnist(tmp_path / "m", n_train=64), "--size", "32", "--epochs", "3", *TINY]
    assert invoke(runner, "train", *args, "--out", digits).exit_code == 0
    run = tmp_path / "run"
    assert invoke(runner, "train", *QUICK, "--epochs", "1", "--out", run).exit_code == 0
    shutil.copy(digits / "checkpoints" / "step-00000006.safetensors", run / "checkpoints" / "step-00000006.safetensors")
    assert load_checkpoint(run).dataset.name == "shapes"
    r = invoke(runner, "train", "--resume", run, "--epochs", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    c = load_checkpoint(run)
    assert c.dataset.name == "shapes" and c.step == 4


def test_a_data_file_edited_in_place_is_read_again(tmp_path):
    """Same size, same mtime, other pixels: the cache must not be reused (the content is sampled)."""
    import os

    import numpy as np

    from dcgan_cli.data.cache import load_data

    from .conftest import make_mnist

    root = make_mnist(tmp_path / "m", n_train=40)
    before = np.asarray(load_data("mnist", 28, root=root, cache_root=tmp_path / "c").images).copy()
    f = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[16 + 5 * 784 : 16 + 6 * 784] = bytes(784)  # image 5 goes black
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    after = np.asarray(load_data("mnist", 28, root=root, cache_root=tmp_path / "c").images)
    assert after[5].max() == 0 and before[5].max() > 0 and np.array_equal(after[:5], before[:5])


def _with(c, path, **replace):
    """A copy of checkpoint c with some tensors replaced, written as a stranger might."""
    from .conftest import forge_checkpoint

    return forge_checkpoint(path, {**c.tensors, **replace}, c.meta)


def test_non_finite_weights_are_refused_by_name(tiny_run, runner, tmp_path):
    import pytest
    import torch

    from dcgan_cli.core.checkpoint import CheckpointError

    c = load_checkpoint(tiny_run)
    w = c.tensors["G/main.0.weight"].clone()
    w[0, 0, 0, 0] = float("nan")
    bad = _with(c, tmp_path / "nan.safetensors", **{"G/main.0.weight": w})
    var = next(k for k in c.tensors if k.startswith("D/") and k.endswith("running_var"))
    neg = _with(c, tmp_path / "neg.safetensors", **{var: -c.tensors[var]})
    for path, fragment in ((bad, "tensor G/main.0.weight holds NaN or infinite values"), (neg, f"tensor {var} holds negative")):
        with pytest.raises(CheckpointError, match=None) as e:
            load_checkpoint(path)
        assert fragment in str(e.value)
        for command in (["sample", path, "--out", tmp_path / "s.png"], ["evaluate", path, "--n", "16"], ["explain", path]):
            r = invoke(runner, *command, "--device", "cpu")
            assert r.exit_code == 1 and fragment in r.output and "Traceback" not in r.output, r.output
    opt = next(k for k in c.tensors if k.startswith("opt_g/") and c.tensors[k].is_floating_point() and c.tensors[k].ndim)
    inf = _with(c, tmp_path / "inf.safetensors", **{opt: torch.full_like(c.tensors[opt], float("inf"))})
    r = invoke(runner, "train", "--resume", inf, "--out", tmp_path / "cont", "--epochs", "3", "--device", "cpu")
    assert r.exit_code == 1 and f"tensor {opt} holds NaN or infinite values" in r.output, r.output


def test_weights_of_another_size_are_named_as_such(tiny_run, tmp_path):
    import pytest

    from dcgan_cli.core.checkpoint import CheckpointError

    from .conftest import forge_checkpoint

    small, big = load_checkpoint(tiny_run), None
    run = tmp_path / "r64"
    from typer.testing import CliRunner

    assert invoke(CliRunner(), "train", "--dataset", "shapes", "--size", "64", "--max-steps", "1", "--limit", "64", *TINY,
                  "--out", run).exit_code == 0
    big = load_checkpoint(run)
    forged = forge_checkpoint(tmp_path / "f.safetensors", big.tensors, small.meta)  # 64 px weights, 32 px config
    with pytest.raises(CheckpointError, match="another architecture than its stored config"):
        load_checkpoint(forged)


def test_an_unreadable_class_folder_is_named_not_dropped_in_silence(runner, tmp_path, monkeypatch):
    import os

    from PIL import Image

    root = tmp_path / "pics"
    for cls in ("cats", "dogs"):
        (root / cls).mkdir(parents=True)
        for i in range(30):
            Image.new("RGB", (40, 40), (i * 8, 20, 200 if cls == "cats" else 20)).save(root / cls / f"{i}.png")
    real_scandir = os.scandir

    def scandir(path="."):  # what a folder without read permission does (root reads everything, so it is simulated)
        if str(path).endswith("dogs"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    r = invoke(
        runner, "data", "prepare", "--dataset", "folder", "--data-root", root, "--size", "32", "--cache-dir", tmp_path / "c"
    )
    assert r.exit_code == 0, r.output
    assert "skipped folder dogs: it cannot be read" in r.stdout


def test_one_class_is_no_feature_space(runner, tmp_path):
    from PIL import Image

    root = tmp_path / "pics" / "only"
    root.mkdir(parents=True)
    for i in range(70):
        Image.new("RGB", (32, 32), (i * 3, 100, 50)).save(root / f"{i}.png")
    args = ["--dataset", "folder", "--data-root", tmp_path / "pics", "--max-steps", "2", "--size", "32", *TINY]
    r = invoke(runner, "train", *args, "--eval-every", "2", "--eval-features", "domain", "--out", tmp_path / "a")
    assert r.exit_code == 2 and "has one class only (only)" in r.output, r.output
    assert invoke(runner, "train", *args, "--out", tmp_path / "b").exit_code == 0
    r = invoke(runner, "evaluate", tmp_path / "b", "--n", "16", "--features", "domain", "--device", "cpu")
    assert r.exit_code == 1 and "has one class only" in r.output, r.output
    from dcgan_cli.data.cache import load_data
    from dcgan_cli.evaluation.features import default_features

    assert default_features(load_data("folder", 32, root=tmp_path / "pics")) == "inception"
