"""Every loader, on tiny data sets written in the real on-disk layouts."""

import io
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.data.cache import load_data
from dcgan_cli.data.source import DataError

from .conftest import SHARED_MNIST, TINY, invoke, make_mnist, write_idx

RNG = np.random.default_rng(0)


def make_celeba(root, n=12):
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True)
    names = ["5_o_Clock_Shadow", "Male", "Smiling", "Young"] + [f"Attr_{i}" for i in range(36)]
    lines = [str(n), " ".join(names)]
    part = []
    for i in range(n):
        fname = f"{i + 1:06d}.jpg"
        Image.fromarray(RNG.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(base / "img_align_celeba" / fname)
        attrs = [1 if (i + j) % 2 else -1 for j in range(40)]
        lines.append(f"{fname} " + " ".join(f"{a:2d}" for a in attrs))
        part.append(f"{fname} {0 if i < n - 3 else 2}")
    (base / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (base / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    return root


def test_mnist_extracted_and_gz_give_the_same_cache(tmp_path):
    a = load_data("mnist", 32, root=make_mnist(tmp_path / "a"), cache_root=tmp_path / "c")
    b = load_data("mnist", 32, root=make_mnist(tmp_path / "b", gz=True), cache_root=tmp_path / "c")
    assert a.images.shape == (40, 1, 32, 32) and a.images.dtype == np.uint8
    assert np.array_equal(a.images, b.images)
    assert a.label_names[:3] == ["zero", "one", "two"] and a.labels[13].argmax() == 3
    assert load_data("mnist", 28, root=tmp_path / "a", split="test", cache_root=tmp_path / "c").images.shape == (10, 1, 28, 28)


def test_fashion_mnist_flat_gz_folder(tmp_path):
    """A user who downloaded the four .gz files by hand into one folder."""
    make_mnist(tmp_path / "x", folder="FashionMNIST", gz=True)
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (tmp_path / "x" / "FashionMNIST" / "raw").iterdir():
        f.rename(flat / f.name)
    d = load_data("fashion-mnist", 28, root=flat, cache_root=tmp_path / "c")
    assert d.images.shape == (40, 1, 28, 28) and "sneaker" in d.label_names


def test_svhn_mat(tmp_path):
    from scipy.io import savemat

    x = RNG.integers(0, 256, (32, 32, 3, 6), dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [3], [4], [5]])})
    d = load_data("svhn", 32, root=tmp_path, cache_root=tmp_path / "c")
    assert d.images.shape == (6, 3, 32, 32)
    assert np.array_equal(d.images[2], x[..., 2].transpose(2, 0, 1))  # no resize at native size
    assert d.labels[0].argmax() == 0  # SVHN's class 10 is the digit 0


def test_cifar10_binary_batches(tmp_path):
    base = tmp_path / "cifar-10-batches-bin"
    base.mkdir()
    for i in range(1, 6):
        rec = RNG.integers(0, 256, (3, 3073), dtype=np.uint8)
        rec[:, 0] = [i % 10, 3, 9]
        rec.tofile(base / f"data_batch_{i}.bin")
    d = load_data("cifar10", 64, root=tmp_path, cache_root=tmp_path / "c")
    assert d.images.shape == (15, 3, 64, 64)
    assert d.label_names[d.labels[1].argmax()] == "cat"


def test_celeba_layout_keeps_40_attributes(tmp_path):
    d = load_data("celeba", 64, root=make_celeba(tmp_path), cache_root=tmp_path / "c")
    assert d.images.shape == (9, 3, 64, 64) and len(d.label_names) == 40 and d.label_names[1] == "Male"
    assert d.items[0] == "000001.jpg" and d.labels.shape == (9, 40)
    assert d.labels[0, 1] == 1 and d.labels[0, 0] == 0  # -1/1 in the file become 0/1
    test = load_data("celeba", 64, root=tmp_path, split="test", cache_root=tmp_path / "c")
    assert test.images.shape[0] == 3


def test_celeba_centre_crop_then_resize(tmp_path):
    make_celeba(tmp_path, n=4)
    img = np.zeros((218, 178, 3), dtype=np.uint8)
    img[:20] = 255  # a white band at the top that the centre crop removes
    Image.fromarray(img).save(tmp_path / "celeba" / "img_align_celeba" / "000001.jpg", quality=100)
    d = load_data("celeba", 32, root=tmp_path, cache_root=tmp_path / "c")
    assert d.images[0].max() < 40


def test_celeba_missing_files_say_where(tmp_path):
    (tmp_path / "celeba" / "img_align_celeba").mkdir(parents=True)
    with pytest.raises(DataError, match="missing .*list_attr_celeba.txt.*list_eval_partition.txt.*img_align_celeba.zip"):
        load_data("celeba", 64, root=tmp_path, cache_root=tmp_path / "c")


def test_folder_with_classes_skips_unreadable(tmp_path, runner):
    for cls in ("cats", "dogs"):
        (tmp_path / "pics" / cls / "deeper").mkdir(parents=True)
        for i in range(60):
            sub = "deeper" if i % 2 else ""
            ext = ("png", "jpg", "webp", "bmp")[i % 4]
            Image.fromarray(RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "pics" / cls / sub / f"{i}.{ext}")
    (tmp_path / "pics" / "cats" / "broken.png").write_bytes(b"not a png")
    r = invoke(
        runner,
        "data",
        "prepare",
        "--dataset",
        "folder",
        "--data-root",
        tmp_path / "pics",
        "--size",
        "32",
        "--cache-dir",
        tmp_path / "c",
    )
    assert r.exit_code == 0, r.output
    assert "skipped 1 unreadable or over-large file(s)" in r.output
    d = load_data("folder", 32, root=tmp_path / "pics", cache_root=tmp_path / "c")
    n_test = load_data("folder", 32, root=tmp_path / "pics", split="test", cache_root=tmp_path / "c").images.shape[0]
    assert d.images.shape[0] + n_test == 120 and d.label_names == ["cats", "dogs"]
    r = invoke(runner, "data", "info", "--cache-dir", tmp_path / "c", "--json")
    assert {c["dataset"] for c in json.loads(r.output)} == {"folder"}
    r = invoke(runner, "train", "--dataset", "folder", "--data-root", tmp_path / "pics", "--size", "32", "--cache-dir",
               tmp_path / "c", "--max-steps", "1", "--batch-size", "16", "--out", tmp_path / "r", "--device", "cpu")
    assert r.exit_code == 0 and "1 unreadable or over-large file(s) skipped (" in r.output and "broken.png" in r.output, r.output


def test_cache_is_reused_and_rebuilt_when_the_source_changes(tmp_path):
    root = make_mnist(tmp_path / "m")
    first = load_data("mnist", 32, root=root, cache_root=tmp_path / "c")
    manifest = first.cache_dir / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    assert load_data("mnist", 32, root=root, cache_root=tmp_path / "c").images.shape == (40, 1, 32, 32)
    assert manifest.stat().st_mtime_ns == stamp  # reused, not rebuilt
    before = np.array(first.images)
    fingerprint = json.loads(manifest.read_text())["fingerprint"]
    write_idx(root / "MNIST" / "raw" / "train-images-idx3-ubyte", np.full((40, 28, 28), 255))
    again = load_data("mnist", 32, root=root, cache_root=tmp_path / "c")
    assert json.loads(manifest.read_text())["fingerprint"] != fingerprint
    assert np.asarray(again.images).min() == 255 and not np.array_equal(before, np.asarray(again.images))


def test_lsun_lmdb(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    db = tmp_path / "bedroom_train_lmdb"
    with lmdb.open(str(db), map_size=2**24) as env, env.begin(write=True) as txn:
        for i in range(5):
            buf = io.BytesIO()
            Image.fromarray(RNG.integers(0, 256, (60, 80, 3), dtype=np.uint8)).save(buf, format="webp")
            txn.put(f"key{i}".encode(), buf.getvalue())
    d = load_data("lsun", 32, root=tmp_path, cache_root=tmp_path / "c")
    assert d.images.shape == (5, 3, 32, 32)


def test_train_from_idx_gz(tmp_path, runner):
    root = make_mnist(tmp_path / "m", gz=True, n_train=64)
    r = invoke(runner, "train", "--dataset", "mnist", "--data-root", root, "--max-steps", "2", "--out", tmp_path / "run", *TINY)
    assert r.exit_code == 0, r.output
    c = load_checkpoint(tmp_path / "run")
    assert c.model_config.nc == 1 and c.model_config.size == 28 and c.dataset.label_names[9] == "nine"


def test_mnist_idx_files_read_as_digits_with_their_labels(tmp_path):
    """The twin of the real-MNIST test below, on idx files this test writes (so it runs on a clean clone)."""
    root = make_mnist(tmp_path / "m", n_train=60, n_test=20)
    d = load_data("mnist", 28, root=root, cache_root=tmp_path / "c")
    assert d.images.shape == (60, 1, 28, 28) and d.label_names[9] == "nine"
    assert (d.labels.sum(0) == 6).all() and (d.labels.sum(1) == 1).all()  # one digit each, every digit
    raw = np.frombuffer((root / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()[16:], np.uint8).reshape(60, 28, 28)
    assert np.array_equal(np.asarray(d.images)[:, 0], raw)  # 28 px: the pixels themselves


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="needs ../shared/data/mnist10k; its twin above runs everywhere")
def test_real_mnist_digits(tmp_path):
    d = load_data("mnist", 28, root=SHARED_MNIST, cache_root=tmp_path / "c")
    assert d.images.shape == (9000, 1, 28, 28)
    counts = d.labels.sum(0)
    assert (counts > 700).all()  # all ten digits
    mean_ink = float(np.asarray(d.images).mean())
    assert 25 < mean_ink < 45  # real digits: mostly black background


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--dataset", "mnist"], 1, "mnist: missing train-images-idx3-ubyte"),
        (["--dataset", "svhn"], 1, "svhn: missing"),
        (["--dataset", "cifar10"], 1, "cifar10: missing"),
        (["--dataset", "celeba"], 1, "celeba: missing"),
        (["--dataset", "folder"], 1, "is not a folder"),
        (["--dataset", "imagenet"], 2, "Invalid value for '--dataset': 'imagenet' is not one of"),
        (["--dataset", "mnist", "--size", "100"], 2, "--size 100 is not a size"),
    ],
)
def test_bad_data_input(runner, tmp_path, args, code, message):
    r = invoke(
        runner, "data", "prepare", "--data-root", tmp_path / "nothing", *(["--size", "32"] if "--size" not in args else []), *args
    )
    assert r.exit_code == code, r.output
    assert message in r.output and "Traceback" not in r.output


def test_empty_folder(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    r = invoke(runner, "train", "--dataset", "folder", "--data-root", tmp_path / "empty", "--max-steps", "1", *TINY)
    assert r.exit_code == 1 and "holds no images" in r.output


def test_download_failure_is_one_line(runner, tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    r = invoke(runner, "data", "prepare", "--dataset", "mnist", "--size", "28", "--data-root", tmp_path / "m", "--download")
    assert r.exit_code == 1, r.output
    assert "mnist: the download failed" in r.output and "Traceback" not in r.output


def test_svhn_without_scipy_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "train_32x32.mat").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "scipy.io", None)  # as if scipy were not installed
    with pytest.raises(DataError, match=r"pip install 'dcgan-cli\[svhn\]'"):
        load_data("svhn", 32, root=tmp_path, cache_root=tmp_path / "c")


def test_celeba_download_without_gdown_says_how(runner, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gdown" else real(name, *a))
    r = invoke(runner, "data", "prepare", "--dataset", "celeba", "--size", "64", "--data-root", tmp_path / "d", "--download",
               "--cache-dir", tmp_path / "c")
    assert r.exit_code == 1 and "pip install 'dcgan-cli[celeba]'" in r.output and "list_eval_partition.txt" in r.output, r.output


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux file systems take names that are not UTF-8")
def test_a_class_folder_named_in_bytes_that_are_not_utf8_is_read_and_shown_escaped(tmp_path, runner):
    root = tmp_path / "old-archive"
    for cls in (b"bad\xff\xfe", b"good"):
        folder = os.path.join(os.fsencode(root), cls)
        os.makedirs(folder)
        for i in range(20):
            picture = Image.fromarray(RNG.integers(0, 256, (36, 36, 3), dtype=np.uint8))
            picture.save(os.fsdecode(os.path.join(folder, b"%d.png" % i)))
    with open(os.path.join(os.fsencode(root), b"bad\xff\xfe", b"broken\xe9.png"), "wb") as f:
        f.write(b"not a png")
    d = load_data("folder", 32, root=root, cache_root=tmp_path / "c")
    assert d.label_names == ["bad\\xff\\xfe", "good"]
    r = invoke(runner, "train", "--dataset", "folder", "--data-root", root, "--size", "32", "--cache-dir", tmp_path / "c",
               "--max-steps", "1", "--batch-size", "16", "--out", tmp_path / "r", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert "broken\\xe9.png" in r.output
    assert load_checkpoint(tmp_path / "r").dataset.label_names == ["bad\\xff\\xfe", "good"]
