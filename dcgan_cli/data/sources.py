"""Readers for the data sets in their real on-disk layouts.

Each reader returns a `Source`: either whole uint8 arrays (MNIST, Fashion-MNIST, SVHN,
CIFAR-10, shapes) or a list of items to decode one by one (CelebA, folders, LSUN), plus
binary label columns and a fingerprint of the files it read. Decoding, cropping and resizing
happen once, in `cache.py`. torchvision's classes are used where they accept the files as
users have them; the gaps they leave are filled here and say so.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
import zlib
from pathlib import Path

import numpy as np

from ..core.configs import DATASETS, SPLITS
from ..core.errors import UsageError
from ..core.files import write_atomic
from . import shapes
from .photos import celeba_source, folder_source, lsun_source
from .source import (
    CIFAR10,
    DIGITS,
    FASHION,
    SHAPES_COUNT,
    DataError,
    Source,
    default_data_root,
    files_identity,
    one_hot,
    run_download,
)


def open_source(
    name: str, root: Path | None = None, split: str = "train", *, download: bool = False, work_dir: Path | None = None,
    channels: int | None = None,
) -> Source:
    """Find and index one split of a data set. Raises DataError naming any missing file.

    `channels` (1 or 3) overrides what the data set's images are converted to; by default an
    image folder whose pictures are all grey gives 1 channel, and every other set its own.
    """
    if name not in DATASETS:
        raise UsageError(f"--dataset: unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise UsageError(f"--split: unknown split {split!r}; choose train or test")
    if channels not in (None, 1, 3):
        raise UsageError(f"--channels must be 1 or 3, got {channels}")
    root = Path(root).expanduser() if root is not None else default_data_root()
    src = _open(name, root, split, download, work_dir)
    if channels is not None and channels != src.channels:
        src.channels = channels
        src.fingerprint += f"-c{channels}"
    return src


def _open(name: str, root: Path, split: str, download: bool, work_dir: Path | None) -> Source:
    if name == "shapes":
        return _shapes(split)
    if name in ("mnist", "fashion-mnist"):
        return _mnist(name, root, split, download, work_dir)
    if name == "svhn":
        return _svhn(root, split, download)
    if name == "cifar10":
        return _cifar10(root, split, download)
    if name == "celeba":
        return celeba_source(root, split, download)
    if name == "lsun":
        return lsun_source(root, split)
    return folder_source(root, split)


def _shapes(split: str) -> Source:
    n, seed = SHAPES_COUNT[split], 0 if split == "train" else 1
    # Drawn at the requested size in cache.py; here only the labels, which do not depend on size.
    labels = shapes.shape_labels(n, seed)
    return Source(
        name="shapes", split=split, channels=3, label_names=list(shapes.LABEL_NAMES), groups=shapes.GROUPS,
        labels=labels, fingerprint=f"shapes-v4-n{n}-seed{seed}", location="built in",
        draw=lambda size: shapes.make_shapes(n, size, seed)[0],
    )


# --- MNIST and Fashion-MNIST: torchvision reads the extracted idx files; we also take the .gz ones.

_IDX = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _mnist(name: str, root: Path, split: str, download: bool, work_dir: Path | None) -> Source:
    from torchvision import datasets

    cls, folder = (datasets.MNIST, "MNIST") if name == "mnist" else (datasets.FashionMNIST, "FashionMNIST")
    all_files = [f for pair in _IDX.values() for f in pair]
    candidates = [root / folder / "raw", root / "raw", root]
    raw = next((c for c in candidates if all((c / f).exists() or (c / f"{f}.gz").exists() for f in all_files)), None)
    if raw is None and download:
        run_download(name, lambda: cls(str(root), train=split == "train", download=True))
        raw = root / folder / "raw"
    if raw is None:
        have = next((c for c in candidates if c.is_dir() and any(c.glob("*idx*"))), root / folder / "raw")
        missing = [f for f in all_files if not (have / f).exists() and not (have / f"{f}.gz").exists()]
        raise DataError(
            f"{name}: missing {', '.join(missing)} (or .gz) in {have}; put the four idx files from "
            f"{'yann.lecun.com/exdb/mnist' if name == 'mnist' else 'github.com/zalandoresearch/fashion-mnist'} there, "
            "or add --download"
        )
    paths = [raw / f if (raw / f).exists() else raw / f"{f}.gz" for f in all_files]
    if all((raw / f).exists() for f in all_files) and raw == root / folder / "raw":
        tv_root = root
    else:
        # torchvision wants extracted files under ROOT/<folder>/raw: give it that layout in our own
        # work folder (users' data folders may be read-only), from the .gz files or the flat layout.
        # Keyed by the source files' fingerprint: files the user replaces (or repairs) get a fresh copy.
        ident = files_identity(paths)
        key = hashlib.sha256(f"{raw.resolve()}\0{ident['fingerprint']}\0{ident['content']}".encode()).hexdigest()[:12]
        tv_root = (work_dir or Path.home() / ".cache" / "dcgan") / "raw" / key
        dest = tv_root / folder / "raw"
        dest.mkdir(parents=True, exist_ok=True)
        for f in all_files:
            if not (dest / f).exists():
                write_atomic(dest / f, functools.partial(_copy_idx, raw, f), what="work copy")
    try:
        ds = cls(str(tv_root), train=split == "train", download=False)
        if ds.data.ndim != 3 or len(ds.data) != len(ds.targets) or len(ds.data) == 0:
            raise ValueError("images and labels do not match")
    except Exception as e:  # torchvision's idx reader raises assorted types for garbage files
        raise DataError(
            f"{name}: the idx files in {raw} could not be read ({type(e).__name__}: {e}); download them again"
        ) from None
    images = ds.data.numpy()  # (N, 28, 28) uint8
    if images.dtype != np.uint8 or ds.targets.min() < 0 or ds.targets.max() > 9:
        raise DataError(f"{name}: the idx files in {raw} hold no 8-bit images with labels 0-9; download them again")
    labels = one_hot(ds.targets.numpy(), 10)
    return Source(
        name=name, split=split, channels=1, label_names=list(DIGITS if name == "mnist" else FASHION),
        groups=[list(DIGITS if name == "mnist" else FASHION)], labels=labels, **files_identity(paths),
        location=str(raw), arrays=lambda: images[..., None],
    )


def _copy_idx(raw: Path, name: str, tmp: Path) -> None:
    """An idx file, extracted or from its .gz, into tmp."""
    try:
        if (raw / name).exists():
            shutil.copyfile(raw / name, tmp)
        else:
            with gzip.open(raw / f"{name}.gz", "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{raw / name}.gz could not be read ({e}); download it again") from None


# --- SVHN: torchvision's class insists on the official md5; the .mat layout itself is simple.


def _svhn(root: Path, split: str, download: bool) -> Source:
    fname = f"{split}_32x32.mat"
    path = next((p for p in (root / fname, root / "svhn" / fname) if p.exists()), None)
    if path is None and download:
        from torchvision import datasets

        run_download("svhn", lambda: datasets.SVHN(str(root), split=split, download=True))
        path = root / fname
    if path is None:
        raise DataError(
            f"svhn: missing {root / fname}; get it from http://ufldl.stanford.edu/housenumbers/{fname}, or add --download"
        )
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataError("svhn's .mat files need scipy: pip install 'dcgan-cli[svhn]'") from None

    try:
        mat = loadmat(str(path))
        x, y = mat["X"], mat["y"].astype(np.int64).reshape(-1)
    except Exception as e:  # scipy raises several types for damaged files
        raise DataError(f"svhn: {path} is not a readable SVHN .mat file ({e})") from None
    images = np.ascontiguousarray(np.transpose(x, (3, 0, 1, 2)))  # (32, 32, 3, N) -> (N, 32, 32, 3)
    y[y == 10] = 0  # SVHN writes the digit 0 as class 10
    return Source(
        name="svhn", split=split, channels=3, label_names=list(DIGITS), groups=[list(DIGITS)],
        labels=one_hot(y, 10), **files_identity([path]), location=str(path), arrays=lambda: images,
    )


# --- CIFAR-10: the binary version is read here; the pickled Python version only through
# torchvision, whose md5 check means only the official files are ever unpickled.


def _cifar10(root: Path, split: str, download: bool) -> Source:
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    for base in (root / "cifar-10-batches-bin", root):
        if all((base / n).exists() for n in names):
            paths = [base / n for n in names]
            raw = np.concatenate([np.fromfile(p, dtype=np.uint8) for p in paths])
            if raw.size % 3073:
                raise DataError(f"cifar10: the batch files in {base} are damaged (size is not a multiple of 3073 bytes)")
            rec = raw.reshape(-1, 3073)
            images = np.ascontiguousarray(rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            return Source(
                name="cifar10", split=split, channels=3, label_names=list(CIFAR10), groups=[list(CIFAR10)],
                labels=one_hot(rec[:, 0].astype(np.int64), 10), **files_identity(paths), location=str(base),
                arrays=lambda: images,
            )
    py = root / "cifar-10-batches-py"
    if py.is_dir() or download:
        from torchvision import datasets

        try:
            ds = run_download("cifar10", lambda: datasets.CIFAR10(str(root), train=split == "train", download=download))
        except RuntimeError as e:
            raise DataError(f"cifar10: {py} failed torchvision's integrity check ({e}); download it again") from None
        paths = sorted(py.glob("*_batch*"))
        images = ds.data
        return Source(
            name="cifar10", split=split, channels=3, label_names=list(CIFAR10), groups=[list(CIFAR10)],
            labels=one_hot(np.array(ds.targets), 10), **files_identity(paths), location=str(py), arrays=lambda: images,
        )
    raise DataError(
        f"cifar10: missing {root / 'cifar-10-batches-bin'}/{names[0]} (binary version) or {py} (Python version); "
        "get cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it there, or add --download"
    )


