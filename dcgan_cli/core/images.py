"""Turning model outputs into picture files: grids, single images and animations.

Every file is written to a temp name and renamed (files.py), so a crash never leaves half a
picture; a target that cannot be a picture (a folder, an unknown extension) is refused first.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from .defaults import MIN_CELL
from .files import check_image_path, write_atomic
from .pixels import to_hwc_uint8


def grid_image(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> Image.Image:
    """Tile (B, C, H, W) images in [-1, 1] into one PIL image, nrow per row (default: square-ish)."""
    # imported here: torchvision takes 1.5 s to import, which a command that draws no plain grid need not pay
    from torchvision.utils import make_grid

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


BACKGROUND, INK = (255, 255, 255), (20, 20, 20)


def enlarged(images: torch.Tensor, min_cell: int = MIN_CELL) -> list[Image.Image]:
    """(B, C, S, S) in [-1, 1] -> B RGB tiles, each enlarged by a whole factor to at least min_cell."""
    factor = max(1, math.ceil(min_cell / images.shape[-1]))
    tiles = []
    for a in to_hwc_uint8(images):
        img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).convert("RGB")
        tiles.append(img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST))
    return tiles




def captioned_grid(images: torch.Tensor, captions: list[str], nrow: int | None = None, title: str | None = None) -> Image.Image:
    """(B, C, S, S) in [-1, 1], shown at their own size, each with its caption centred below it
    (e.g. "seed 12"); nrow per row (default: square-ish); `title` in a band above (e.g. the truncation)."""
    from PIL import ImageFont

    ncol = nrow or max(1, math.ceil(math.sqrt(images.shape[0])))
    tiles = enlarged(images, images.shape[-1])
    cell = tiles[0].width
    font = ImageFont.load_default(size=max(10, min(16, cell // 8)))
    gap, pad, band = 4, 4, font.size + 6
    top = band + gap if title else 0
    nrows = math.ceil(len(tiles) / ncol)
    out = Image.new("RGB", (2 * pad + ncol * cell + (ncol - 1) * gap,
                            2 * pad + top + nrows * (cell + band) + (nrows - 1) * gap), BACKGROUND)
    draw = ImageDraw.Draw(out)
    if title:
        draw.text((pad, pad + band // 2), title, fill=INK, font=font, anchor="lm")
    for k, (tile, text) in enumerate(zip(tiles, captions)):
        x, y = pad + (k % ncol) * (cell + gap), pad + top + (k // ncol) * (cell + band + gap)
        out.paste(tile, (x, y))
        draw.text((x + cell // 2, y + cell + band // 2), text, fill=INK, font=font, anchor="mm")
    return out


def labelled_grid(rows: list[torch.Tensor], row_labels: list[str], col_labels: list[str] | None = None, *,
                  min_cell: int = MIN_CELL, title: str | None = None) -> Image.Image:
    """Rows of images (each (N, C, S, S) in [-1, 1]) as one picture a person can read: tiles
    enlarged to at least min_cell, each row named on its left, each column on top, a title above."""
    from PIL import ImageFont

    tiles = [enlarged(r, min_cell) for r in rows]
    cell = tiles[0][0].width
    font = ImageFont.load_default(size=max(12, min(18, cell // 8)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    gap, pad, line = 4, 8, font.size + 8
    left = pad + max((int(probe.textlength(t, font=font)) for t in row_labels), default=0) + pad
    top = pad + (line if title else 0) + (line if col_labels else 0)
    ncol = max(len(r) for r in tiles)
    width = left + ncol * (cell + gap) + pad
    if title:
        width = max(width, int(probe.textlength(title, font=font)) + 2 * pad)
    out = Image.new("RGB", (width, top + len(tiles) * (cell + gap) + pad), BACKGROUND)
    draw = ImageDraw.Draw(out)
    if title:
        draw.text((pad, pad), title, fill=INK, font=font)
    for j, text in enumerate(col_labels or []):
        draw.text((left + j * (cell + gap) + cell // 2, top - line // 2), text, fill=INK, font=font, anchor="mm")
    for i, (label, row) in enumerate(zip(row_labels, tiles)):
        y = top + i * (cell + gap)
        draw.text((pad, y + cell // 2), label, fill=INK, font=font, anchor="lm")
        for j, tile in enumerate(row):
            out.paste(tile, (left + j * (cell + gap), y))
    return out


def captioned_table(rows: list[torch.Tensor], captions: list[list[str]], row_labels: list[str], col_labels: list[str], *,
                    title: str, min_cell: int = MIN_CELL, marked: int | None = 0) -> Image.Image:
    """A table of pictures to read at a glance (nn-search's): a title, a header over every column, each
    row named on its left, every tile (enlarged to at least min_cell) captioned below. Column
    `marked` (the queries) is set off from the rest by a wider gap."""
    from PIL import ImageFont

    tiles = [enlarged(r, min_cell) for r in rows]
    cell = tiles[0][0].width
    font = ImageFont.load_default(size=16)
    small = ImageFont.load_default(size=14)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    gap, pad, line = 6, 10, 24
    left = pad + max((int(probe.textlength(t, font=font)) for t in row_labels), default=0) + pad
    ncol = max(len(r) for r in tiles)
    xs = [left + j * (cell + gap) + (3 * gap if marked is not None and j > marked else 0) for j in range(ncol)]
    top = pad + 2 * line
    width = max(xs[-1] + cell + pad, int(probe.textlength(title, font=font)) + 2 * pad)
    out = Image.new("RGB", (width, top + len(tiles) * (cell + line + gap) + pad), BACKGROUND)
    draw = ImageDraw.Draw(out)
    draw.text((pad, pad), title, fill=INK, font=font)
    for x, text in zip(xs, col_labels):
        draw.text((x + cell // 2, top - line // 2), text, fill=INK, font=font, anchor="mm")
    for i, (label, row, texts) in enumerate(zip(row_labels, tiles, captions)):
        y = top + i * (cell + line + gap)
        draw.text((pad, y + cell // 2), label, fill=INK, font=font, anchor="lm")
        for x, tile, text in zip(xs, row, texts):
            out.paste(tile, (x, y))
            draw.text((x + cell // 2, y + cell + line // 2), text, fill=INK, font=small, anchor="mm")
    return out


def labelled_frame(image: Image.Image, text: str, min_side: int = 256) -> Image.Image:
    """One animation frame enlarged (nearest) to at least min_side, with a caption band below."""
    from PIL import ImageFont

    factor = max(1, math.ceil(min_side / min(image.size)))
    big = image.convert("RGB").resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    font = ImageFont.load_default(size=16)
    out = Image.new("RGB", (big.width, big.height + 26), BACKGROUND)
    out.paste(big, (0, 0))
    ImageDraw.Draw(out).text((out.width // 2, big.height + 13), text, fill=INK, font=font, anchor="mm")
    return out


def video_available() -> bool:
    """An MP4 encoder is at hand: imageio-ffmpeg, which ships its own ffmpeg (the `video` extra)."""
    import importlib.util

    return importlib.util.find_spec("imageio_ffmpeg") is not None


def save_mp4(frames: list[Image.Image], path: Path, fps: int = 8) -> Path:
    """An H.264 MP4 of the frames (padded white to a multiple of 16 px, as the encoder wants)."""
    import imageio_ffmpeg
    import numpy as np

    w, h = frames[0].size
    side_w, side_h = -(-w // 16) * 16, -(-h // 16) * 16

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"")  # a folder that takes no file fails here, in one line, not in ffmpeg's own words
        writer = imageio_ffmpeg.write_frames(str(tmp), (side_w, side_h), fps=fps, macro_block_size=1, ffmpeg_log_level="error")
        writer.send(None)  # start the encoder
        for f in frames:
            canvas = Image.new("RGB", (side_w, side_h), BACKGROUND)
            canvas.paste(f.convert("RGB"), (0, 0))
            writer.send(np.ascontiguousarray(np.asarray(canvas)))
        writer.close()

    return write_atomic(Path(path), write, what="video")
