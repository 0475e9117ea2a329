"""What every reader of a data set returns (`Source`) and the helpers they share: the error type,
the fingerprint of the files read, torchvision downloads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.errors import DcganError

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


def run_download(name: str, fetch: Callable[[], object]):
    """Run a torchvision download; offline or blocked, say so in one line instead of a traceback."""
    try:
        return fetch()
    except (OSError, RuntimeError, ValueError) as e:  # URLError is an OSError; torchvision raises RuntimeError
        if isinstance(e, RuntimeError) and "integrity" in str(e).lower() and name == "cifar10":
            raise
        raise DataError(f"{name}: the download failed ({e}); fetch the files by hand and point --data-root at them") from None


SAMPLED_FILES, SAMPLED_BLOCKS, BLOCK = 256, 16, 4096


def content_sample(paths: list[Path]) -> str:
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


def files_identity(paths: list[Path]) -> dict[str, str]:
    """The source's fingerprint (names, sizes, mtimes: what checkpoints record) and its content sample."""
    return {"fingerprint": files_fingerprint(paths), "content": content_sample(paths)}


def files_fingerprint(paths: list[Path]) -> str:
    """Names, sizes and mtimes: cheap enough for 200k files, and it changes when any file does."""
    h = hashlib.sha256()
    for p in sorted(paths):
        try:
            st = p.stat()
        except OSError as e:
            raise DataError(f"{p} cannot be read ({e.strerror or e})") from None
        h.update(os.fsencode(p.name) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def one_hot(classes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((len(classes), n), dtype=np.uint8)
    out[np.arange(len(classes)), classes] = 1
    return out


