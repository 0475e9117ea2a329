"""Turning model outputs into picture files: grids, single images and animations.

Every file is written to a temp name and renamed (files.py), so a crash never leaves half a
picture; a target that cannot be a picture (a folder, an unknown extension) is refused first.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from .files import check_image_path, write_atomic
from .pixels import to_hwc_uint8


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Tile (B, C, H, W) images in [-1, 1] into one PIL image, nrow per row (default: square-ish)."""
    nrow = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    grid = make_grid(images.detach().float().cpu().clamp(-1, 1), nrow=nrow, padding=padding, normalize=True, value_range=(-1, 1))
    arr = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()  # (H, W, 3): make_grid repeats grey to RGB
    return Image.fromarray(arr)


def read_picture(path: Path) -> Image.Image:
    """An image file, decoded, in RGB; a file that is not a readable picture, or one so large it is
    likely a decompression bomb, is a one-line DcganError naming it."""
    import warnings

    from PIL import UnidentifiedImageError

    from .errors import DcganError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DcganError(f"{path} is too large to decode safely (over {Image.MAX_IMAGE_PIXELS:,} pixels)") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as e:
        raise DcganError(f"{path} is not a readable picture ({e})") from None


def save_pil(img: Image.Image, path: Path, **kwargs) -> Path:
    path = check_image_path(path)
    if path.suffix.lower() in (".jpg", ".jpeg") and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    return write_atomic(path, lambda tmp: img.save(tmp, **kwargs), what="picture")


def save_grid(images: torch.Tensor, path: Path, nrow: int | None = None) -> Path:
    return save_pil(grid_image(images, nrow), path)


def save_individual(images: torch.Tensor, folder: Path, names: list[str]) -> list[Path]:
    arr = to_hwc_uint8(images)
    out = []
    for a, name in zip(arr, names):
        out.append(save_pil(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a), Path(folder) / name))
    return out


def save_gif(frames: list[Image.Image], path: Path, duration_ms: int = 120, loop: bool = True) -> Path:
    """An animated GIF; Pillow writes it, no extra dependency."""
    check_image_path(path, "--gif", (".gif",))
    first, *rest = [f.convert("RGB") for f in frames]
    return save_pil(first, path, save_all=True, append_images=rest, duration=duration_ms, loop=0 if loop else 1)


def caption_below(img: Image.Image, captions: list[str], cell: int, padding: int = 2, nrow: int | None = None) -> Image.Image:
    """Add a strip of text under each column of a one-row grid (used for nn-search distances)."""
    ncol = nrow or len(captions)
    band = 12
    out = Image.new("RGB", (img.width, img.height + band), (0, 0, 0))
    out.paste(img, (0, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(captions[:ncol]):
        draw.text((padding + i * (cell + padding), img.height), text, fill=(255, 255, 255))
    return out
