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
import io
import os
import shutil
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.configs import DATASETS, SPLITS
from ..core.errors import DcganError, UsageError
from ..core.files import write_atomic
from . import shapes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
FASHION = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"]
CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
SHAPES_COUNT = {"train": 8192, "test": 1024}


class DataError(DcganError):
    pass


@dataclass
class Source:
    """What one split of a data set holds, before any decoding or resizing."""

    name: str
    split: str
    channels: int
    label_names: list[str]
    groups: list[list[str]]  # label columns that exclude each other (one class per image)
    labels: np.ndarray | None  # (N, len(label_names)) uint8 0/1
    fingerprint: str  # changes when the source files change (names, sizes, mtimes)
    location: str
    arrays: Callable[[], np.ndarray] | None = None  # -> (N, H, W, C) uint8
    items: list[str] = field(default_factory=list)  # names of the images to decode one by one
    load_item: Callable[[int], Image.Image] | None = None
    draw: Callable[[int], np.ndarray] | None = None  # size -> (N, C, size, size) uint8, for generated sets
    content: str = ""  # a digest of sampled file contents: an edit that keeps size and mtime changes it
    unreadable: list[str] = field(default_factory=list)  # folders that could not be listed, relative to the root

    @property
    def count(self) -> int:
        return len(self.items) if self.load_item else int(self.labels.shape[0]) if self.labels is not None else 0


def default_data_root() -> Path:
    return Path(os.environ.get("DCGAN_DATA", Path.home() / ".cache" / "dcgan" / "data"))


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
        return _celeba(root, split, download)
    if name == "lsun":
        return _lsun(root, split)
    return _folder(root, split)


def _download(name: str, fetch: Callable[[], object]):
    """Run a torchvision download; offline or blocked, say so in one line instead of a traceback."""
    try:
        return fetch()
    except (OSError, RuntimeError, ValueError) as e:  # URLError is an OSError; torchvision raises RuntimeError
        if isinstance(e, RuntimeError) and "integrity" in str(e).lower() and name == "cifar10":
            raise
        raise DataError(f"{name}: the download failed ({e}); fetch the files by hand and point --data-root at them") from None


SAMPLED_FILES, SAMPLED_BLOCKS, BLOCK = 256, 16, 4096


def _content_sample(paths: list[Path]) -> str:
    """A digest of sampled contents, so a file edited in place with its size and mtime kept is
    still seen: every file when there are at most SAMPLED_FILES (else that many, evenly spread),
    and of each SAMPLED_BLOCKS blocks of 4 KiB evenly spread (all of a file under 64 KiB)."""
    h = hashlib.sha256()
    files = sorted(paths)
    if len(files) > SAMPLED_FILES:
        files = [files[i * len(files) // SAMPLED_FILES] for i in range(SAMPLED_FILES)]
    for p in files:
        try:
            with open(p, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                for k in range(min(SAMPLED_BLOCKS, -(-size // BLOCK))):
                    f.seek(k * max(size - BLOCK, 0) // max(SAMPLED_BLOCKS - 1, 1) if size > SAMPLED_BLOCKS * BLOCK else k * BLOCK)
                    h.update(f.read(BLOCK))
        except OSError as e:
            raise DataError(f"{p} cannot be read ({e.strerror or e})") from None
    return h.hexdigest()[:16]


def _identity(paths: list[Path]) -> dict[str, str]:
    """The source's fingerprint (names, sizes, mtimes: what checkpoints record) and its content sample."""
    return {"fingerprint": _fingerprint(paths), "content": _content_sample(paths)}


def _fingerprint(paths: list[Path]) -> str:
    """Names, sizes and mtimes: cheap enough for 200k files, and it changes when any file does."""
    h = hashlib.sha256()
    for p in sorted(paths):
        try:
            st = p.stat()
        except OSError as e:
            raise DataError(f"{p} cannot be read ({e.strerror or e})") from None
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _one_hot(classes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(classes), n), dtype=np.uint8)
    out[np.arange(len(classes)), classes] = 1
    return out


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
        _download(name, lambda: cls(str(root), train=split == "train", download=True))
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
        ident = _identity(paths)
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
    labels = _one_hot(ds.targets.numpy(), 10)
    return Source(
        name=name, split=split, channels=1, label_names=list(DIGITS if name == "mnist" else FASHION),
        groups=[list(DIGITS if name == "mnist" else FASHION)], labels=labels, **_identity(paths),
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

        _download("svhn", lambda: datasets.SVHN(str(root), split=split, download=True))
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
        labels=_one_hot(y, 10), **_identity([path]), location=str(path), arrays=lambda: images,
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
                labels=_one_hot(rec[:, 0].astype(np.int64), 10), **_identity(paths), location=str(base),
                arrays=lambda: images,
            )
    py = root / "cifar-10-batches-py"
    if py.is_dir() or download:
        from torchvision import datasets

        try:
            ds = _download("cifar10", lambda: datasets.CIFAR10(str(root), train=split == "train", download=download))
        except RuntimeError as e:
            raise DataError(f"cifar10: {py} failed torchvision's integrity check ({e}); download it again") from None
        paths = sorted(py.glob("*_batch*"))
        images = ds.data
        return Source(
            name="cifar10", split=split, channels=3, label_names=list(CIFAR10), groups=[list(CIFAR10)],
            labels=_one_hot(np.array(ds.targets), 10), **_identity(paths), location=str(py), arrays=lambda: images,
        )
    raise DataError(
        f"cifar10: missing {root / 'cifar-10-batches-bin'}/{names[0]} (binary version) or {py} (Python version); "
        "get cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and extract it there, or add --download"
    )


# --- CelebA: torchvision's class needs all six official files with their md5; we read the three
# that matter for a GAN (images, attributes, partition) and keep all 40 attributes by name.

CELEBA_FILES = ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt")


def _celeba(root: Path, split: str, download: bool) -> Source:
    base = next((b for b in (root / "celeba", root) if all((b / f).exists() for f in CELEBA_FILES)), None)
    if base is None and download:
        import importlib.util

        from torchvision import datasets

        if importlib.util.find_spec("gdown") is None:  # torchvision fetches CelebA from Google Drive through gdown
            raise DataError("celeba: --download needs gdown: pip install 'dcgan-cli[celeba]'; or fetch img_align_celeba.zip, "
                            "list_attr_celeba.txt and list_eval_partition.txt from the CelebA site's Google Drive by hand "
                            f"into {root / 'celeba'} (img_align_celeba/ unzipped) and leave out --download")
        _download("celeba", lambda: datasets.CelebA(str(root), split="all", target_type="attr", download=True))
        base = root / "celeba"
    if base is None:
        base = root / "celeba" if (root / "celeba").is_dir() else root
        missing = [f for f in CELEBA_FILES if not (base / f).exists()]
        raise DataError(
            f"celeba: missing {', '.join(str(base / f) for f in missing)}. From the CelebA Google Drive, unzip "
            "img_align_celeba.zip into img_align_celeba/ and put list_attr_celeba.txt and list_eval_partition.txt "
            f"(from Anno/ and Eval/) beside it in {base}"
        )
    attr_lines = (base / "list_attr_celeba.txt").read_text().splitlines()
    try:
        names = attr_lines[1].split()
        rows = [line.split() for line in attr_lines[2:] if line.strip()]
        files = [r[0] for r in rows]
        attrs = (np.array([[int(v) for v in r[1:]] for r in rows], dtype=np.int8) > 0).astype(np.uint8)
        partition = dict(line.split() for line in (base / "list_eval_partition.txt").read_text().splitlines() if line.strip())
    except (IndexError, ValueError) as e:
        raise DataError(f"celeba: {base / 'list_attr_celeba.txt'} or list_eval_partition.txt is malformed ({e})") from None
    if attrs.shape[1] != len(names):
        raise DataError(f"celeba: list_attr_celeba.txt names {len(names)} attributes but rows hold {attrs.shape[1]}")
    # Partition 0 = train, 1 = validation, 2 = test; a GAN has no use for validation, so it trains on it.
    want = {"0", "1"} if split == "train" else {"2"}
    keep = [i for i, f in enumerate(files) if partition.get(f) in want]
    img_dir = base / "img_align_celeba"
    missing = [files[i] for i in keep[:1000] if not (img_dir / files[i]).exists()]
    if missing:
        raise DataError(
            f"celeba: {img_dir} lacks images named in list_attr_celeba.txt, e.g. {missing[0]}; unzip img_align_celeba.zip there"
        )
    items = [files[i] for i in keep]
    return Source(
        name="celeba",
        split=split,
        channels=3,
        label_names=names,
        groups=[],
        labels=attrs[keep],
        **_identity(
            [base / "list_attr_celeba.txt", base / "list_eval_partition.txt", *[img_dir / f for f in items]]
        ),
        location=str(base),
        items=items,
        load_item=lambda i: Image.open(img_dir / items[i]),
    )


# --- Image folders: any tree of images; first-level subfolders are classes when there are any.


def _folder(root: Path, split: str) -> Source:
    if not root.is_dir():
        raise DataError(f"folder: {root} is not a folder; pass --data-root pointing at a folder of images")
    files, unreadable = _images_under(root)
    if not files:
        raise DataError(f"folder: {root} holds no images ({', '.join(IMAGE_EXTENSIONS)}); pass a folder that does")
    rel = [p.relative_to(root) for p in files]
    classes = sorted({r.parts[0] for r in rel if len(r.parts) > 1})
    # A stable 1-in-50 holdout by file name gives nn-search its unseen images; folders have no test split.
    in_test = [int(hashlib.md5(str(r).encode()).hexdigest(), 16) % 50 == 0 for r in rel]
    keep = [i for i, t in enumerate(in_test) if t == (split == "test")]
    if not keep:
        raise DataError(f"folder: {root} has no images in the {split} split (1 in 50 images is held out as test)")
    labels = None
    if classes:
        cls_of = [classes.index(r.parts[0]) if len(r.parts) > 1 else -1 for r in rel]
        if min(cls_of) < 0:
            raise DataError(f"folder: {root} mixes loose images with class subfolders; move the loose ones into a subfolder")
        labels = _one_hot(np.array([cls_of[i] for i in keep]), len(classes))
    items = [str(rel[i]) for i in keep]
    return Source(
        name="folder",
        split=split,
        channels=_folder_channels([files[i] for i in keep]),
        label_names=classes,
        groups=[classes] if classes else [],
        labels=labels,
        **_identity([files[i] for i in keep]),
        location=str(root),
        items=items,
        load_item=lambda i: Image.open(root / items[i]),
        unreadable=unreadable,
    )


def _images_under(root: Path) -> tuple[list[Path], list[str]]:
    """The image files under root, sorted, and the folders that could not be listed (named, not
    dropped in silence: a class folder without read permission would otherwise vanish)."""
    unreadable: list[str] = []
    files = []
    for folder, dirs, names in os.walk(root, onerror=lambda e: unreadable.append(str(Path(e.filename).relative_to(root)))):
        dirs.sort()
        for name in names:
            p = Path(folder) / name
            if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
                files.append(p)
    return sorted(files), sorted(unreadable)


GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"}


def _folder_channels(files: list[Path], sample: int = 64) -> int:
    """1 when every image looked at (up to `sample`, spread over the folder) is grey, else 3.

    Only headers are read, so this costs milliseconds; an unreadable file does not vote.
    """
    step = max(1, len(files) // sample)
    modes = set()
    for p in files[::step][:sample]:
        try:
            with Image.open(p) as img:
                modes.add(img.mode)
        except Exception:  # unreadable files are skipped (and counted) when the cache is built
            continue
    return 1 if modes and modes <= GREY_MODES else 3


# --- LSUN: the lmdb layout (one <category>_<split>_lmdb folder each). torchvision's LSUN class
# writes a pickled key cache into the working directory, so we read the lmdb directly.


def _lsun(root: Path, split: str) -> Source:
    try:
        import lmdb
    except ImportError:
        raise DataError("lsun needs the lmdb package: pip install 'dcgan-cli[lsun]'") from None
    suffix = "val" if split == "test" else "train"
    if (root / "data.mdb").exists():
        dbs = [root]
    else:
        dbs = sorted(p for p in root.glob(f"*_{suffix}_lmdb") if (p / "data.mdb").exists())
    if not dbs:
        raise DataError(
            f"lsun: no <category>_{suffix}_lmdb folder with data.mdb in {root}; unzip e.g. bedroom_{suffix}_lmdb.zip there"
        )
    categories = [p.name.removesuffix(f"_{suffix}_lmdb") for p in dbs]
    # One read-only environment per database, opened once and shared by the decoding threads.
    envs = [lmdb.open(str(db), readonly=True, lock=False, readahead=False, meminit=False) for db in dbs]
    keys: list[tuple[int, bytes]] = []
    for ci, env in enumerate(envs):
        with env.begin() as txn:
            keys.extend((ci, k) for k in txn.cursor().iternext(keys=True, values=False))

    def load(i: int) -> Image.Image:
        ci, key = keys[i]
        with envs[ci].begin() as txn:
            return Image.open(io.BytesIO(txn.get(key)))

    labels = _one_hot(np.array([ci for ci, _ in keys]), len(dbs)) if len(dbs) > 1 else None
    return Source(
        name="lsun", split=split, channels=3, label_names=categories if len(dbs) > 1 else [],
        groups=[categories] if len(dbs) > 1 else [], labels=labels,
        **_identity([db / "data.mdb" for db in dbs]), location=str(root),
        items=[k.decode(errors="replace") for _, k in keys], load_item=load,
    )
