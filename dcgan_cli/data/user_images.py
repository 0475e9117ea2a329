"""Pictures a person brings (nn-search queries, images to project): read safely, checked, and
converted to the model's size and channels the way the data set's images were, with a note for
each conversion a person might not expect.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.errors import UsageError
from ..core.files import why_missing


@dataclass
class UserImages:
    images: torch.Tensor  # (N, C, size, size) in [-1, 1]
    paths: list[Path]
    notes: list[str] = field(default_factory=list)  # one per conversion worth knowing, naming the files


def _conversions(img, size: int, channels: int, mode: str) -> list[str]:
    """What converting `img` (a file of `mode` as stored: a JPEG's draft decodes it grey already) as the
    data set was will do to it, in words (empty: nothing surprising)."""
    said = []
    if "A" in mode or (mode == "P" and "transparency" in img.info):
        said.append("transparent pixels laid over black")
    if channels == 1 and mode not in ("L", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "LA"):
        said.append("colour turned grey, as the data set's images were")
    if channels == 3 and mode in ("L", "1", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "LA"):
        said.append("grey repeated to RGB")
    w, h = img.size
    if w != h:
        said.append(f"centre-cropped from {w}x{h} to a square")
    if min(w, h) < size:
        said.append(f"enlarged from {min(w, h)} px to the model's {size} px")
    return said


def load_images(paths: list[Path], size: int, channels: int, flag: str = "--query",
                names: list[str] | None = None) -> UserImages:
    """Image files -> (N, C, size, size) in [-1, 1], cropped and resized as the training data was,
    turned upright as their EXIF orientation says (as a photo viewer shows them).

    A path that is missing, not a file, not a picture, a decompression bomb or under half the
    model's size is a one-line UsageError naming it (`FLAG PATH`, or `names[i]` where the caller knows
    the picture by another name); nothing is read past the first bad one.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    from ..core.pixels import to_model_range
    from .cache import crop_resize

    if not paths:
        raise UsageError(f"no images given to {flag}")
    arrays, notes = [], {}
    for i, p in enumerate(map(Path, paths)):
        said = names[i] if names else f"{flag} {p}"
        if not p.exists():
            raise UsageError(f"{said} {why_missing(p)}")
        if not p.is_file():
            raise UsageError(f"{said} is not a file; give an image file")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as img:
                    if 2 * min(img.size) < size:
                        raise UsageError(f"{said} is {img.size[0]}x{img.size[1]}, too small for the model's "
                                         f"{size}x{size} (at least {(size + 1) // 2}x{(size + 1) // 2}); give a larger image")
                    stored = img.mode
                    img.draft("RGB" if channels == 3 else "L", (size, size))  # JPEG: decode near the size needed
                    upright = ImageOps.exif_transpose(img)
                    for what in _conversions(upright, size, channels, stored):
                        notes.setdefault(what, []).append(p.name)
                    arrays.append(crop_resize(upright, size, channels))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UsageError(
                f"{said} is too large to decode safely (over {Image.MAX_IMAGE_PIXELS:,} pixels); shrink it first"
            ) from None
        except PermissionError:
            raise UsageError(f"{said} cannot be read (permission denied)") from None
        except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
            raise UsageError(f"{said} is not a readable image") from None
    lines = [f"note: {what}: {', '.join(names_[:3])}{f' and {len(names_) - 3} more' if len(names_) > 3 else ''}"
             for what, names_ in notes.items()]
    return UserImages(to_model_range(np.stack(arrays)), [Path(p) for p in paths], lines)
