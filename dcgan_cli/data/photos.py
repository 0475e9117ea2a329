"""Readers of the photo sets: CelebA (images, 40 attributes, partition), a folder of pictures (one
class per subfolder) and LSUN (LMDB). Each returns a `Source` of items decoded one by one in cache.py."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from .source import (
    IMAGE_EXTENSIONS,
    DataError,
    Source,
    files_identity,
    one_hot,
    run_download,
)

# --- CelebA: torchvision's class needs all six official files with their md5; we read the three
# that matter for a GAN (images, attributes, partition) and keep all 40 attributes by name.

CELEBA_FILES = ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt")


def celeba_source(root: Path, split: str, download: bool) -> Source:
    base = next((b for b in (root / "celeba", root) if all((b / f).exists() for f in CELEBA_FILES)), None)
    if base is None and download:
        import importlib.util

        from torchvision import datasets

        if importlib.util.find_spec("gdown") is None:  # torchvision fetches CelebA from Google Drive through gdown
            raise DataError("celeba: --download needs gdown: pip install 'dcgan-cli[celeba]'; or fetch img_align_celeba.zip, "
                            "list_attr_celeba.txt and list_eval_partition.txt from the CelebA site's Google Drive by hand "
                            f"into {root / 'celeba'} (img_align_celeba/ unzipped) and leave out --download")
        run_download("celeba", lambda: datasets.CelebA(str(root), split="all", target_type="attr", download=True))
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
        **files_identity(
            [base / "list_attr_celeba.txt", base / "list_eval_partition.txt", *[img_dir / f for f in items]]
        ),
        location=str(base),
        items=items,
        load_item=lambda i: Image.open(img_dir / items[i]),
    )


# --- Image folders: any tree of images; first-level subfolders are classes when there are any.


def folder_source(root: Path, split: str) -> Source:
    if not root.is_dir():
        raise DataError(f"folder: {root} is not a folder; pass --data-root pointing at a folder of images")
    files, unreadable = _images_under(root)
    if not files:
        raise DataError(f"folder: {root} holds no images ({', '.join(IMAGE_EXTENSIONS)}); pass a folder that does")
    rel = [p.relative_to(root) for p in files]
    classes = sorted({readable(r.parts[0]) for r in rel if len(r.parts) > 1})
    # A stable 1-in-50 holdout by file name gives nn-search its unseen images; folders have no test split.
    in_test = [int(hashlib.md5(os.fsencode(r)).hexdigest(), 16) % 50 == 0 for r in rel]
    keep = [i for i, t in enumerate(in_test) if t == (split == "test")]
    if not keep:
        raise DataError(f"folder: {root} has no images in the {split} split (1 in 50 images is held out as test)")
    labels = None
    if classes:
        cls_of = [classes.index(readable(r.parts[0])) if len(r.parts) > 1 else -1 for r in rel]
        if min(cls_of) < 0:
            raise DataError(f"folder: {root} mixes loose images with class subfolders; move the loose ones into a subfolder")
        labels = one_hot(np.array([cls_of[i] for i in keep]), len(classes))
    keep_files = [files[i] for i in keep]
    return Source(
        name="folder",
        split=split,
        channels=_folder_channels([files[i] for i in keep]),
        label_names=classes,
        groups=[classes] if classes else [],
        labels=labels,
        **files_identity(keep_files),
        location=readable(root),
        items=[readable(rel[i]) for i in keep],
        load_item=lambda i: Image.open(keep_files[i]),
        unreadable=unreadable,
    )


def readable(name: str | Path) -> str:
    """A file name as text: a name that is not UTF-8 (common in old archives) keeps its bytes as visible
    escapes (bad\\xff) for labels, manifests and messages; the file itself is still opened by its real path."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _images_under(root: Path) -> tuple[list[Path], list[str]]:
    """The image files under root, sorted, and the folders that could not be listed (named, not
    dropped in silence: a class folder without read permission would otherwise vanish)."""
    unreadable: list[str] = []
    files = []
    for folder, dirs, names in os.walk(root, onerror=lambda e: unreadable.append(readable(Path(e.filename).relative_to(root)))):
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


def lsun_source(root: Path, split: str) -> Source:
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

    labels = one_hot(np.array([ci for ci, _ in keys]), len(dbs)) if len(dbs) > 1 else None
    return Source(
        name="lsun", split=split, channels=3, label_names=categories if len(dbs) > 1 else [],
        groups=[categories] if len(dbs) > 1 else [], labels=labels,
        **files_identity([db / "data.mdb" for db in dbs]), location=str(root),
        items=[k.decode(errors="replace") for _, k in keys], load_item=load,
    )
