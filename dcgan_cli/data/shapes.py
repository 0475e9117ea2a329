"""The built-in data set: coloured shapes on a plain background, drawn from a seed.

It needs no download, works at any size, and carries labelled attributes (shape, colour,
size) so that latent arithmetic ("red circle - circle + square") and nearest-neighbour search
can be tried offline.
"""

from __future__ import annotations

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLOURS = {
    "red": (220, 45, 45),
    "green": (45, 185, 70),
    "blue": (50, 90, 225),
    "yellow": (235, 215, 45),
}
SIZES = ("small", "large")
# One binary column per value; values of one group exclude each other.
LABEL_NAMES = [*SHAPES, *COLOURS, *SIZES]
GROUPS = [list(SHAPES), list(COLOURS), list(SIZES)]

_SUPERSAMPLE = 4  # draw at 4x and average down: smooth edges at any size
_CHUNK_PIXELS = 2**20  # supersampled pixels drawn at once: ~8 MB of float64 temporaries, whatever the size


def _attributes(n: int, seed: int) -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray]:
    """The first draws of the seed's stream: shape, colour and size index of every image."""
    rng = np.random.default_rng(seed)
    return rng, rng.integers(0, len(SHAPES), n), rng.integers(0, len(COLOURS), n), rng.integers(0, len(SIZES), n)


def shape_labels(n: int, seed: int = 0) -> np.ndarray:
    """The labels (n, 9) uint8 that make_shapes(n, any size, seed) returns, without drawing."""
    _, shape_i, colour_i, size_i = _attributes(n, seed)
    return _one_hot_labels(shape_i, colour_i, size_i)


def _one_hot_labels(shape_i: np.ndarray, colour_i: np.ndarray, size_i: np.ndarray) -> np.ndarray:
    n = len(shape_i)
    labels = np.zeros((n, len(LABEL_NAMES)), dtype=np.uint8)
    rows = np.arange(n)
    labels[rows, shape_i] = 1
    labels[rows, len(SHAPES) + colour_i] = 1
    labels[rows, len(SHAPES) + len(COLOURS) + size_i] = 1
    return labels


def make_shapes(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw n images. Returns images (n, 3, size, size) uint8 and labels (n, 9) uint8 (LABEL_NAMES)."""
    rng, shape_i, colour_i, size_i = _attributes(n, seed)
    return draw_shapes(shape_i, colour_i, size_i, size, rng), _one_hot_labels(shape_i, colour_i, size_i)


def _circle(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    return dx * dx + dy * dy <= r * r


def _square(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    half = r * 0.86  # similar area to the circle
    return (np.abs(dx) <= half) & (np.abs(dy) <= half)


def _triangle(dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    top, bottom = -r, r * 0.8
    t = (dy - top) / (bottom - top)  # 0 at the apex, 1 at the base
    return (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r * 1.1)


def _block_counts(mask: np.ndarray, size: int) -> np.ndarray:
    """(B, s, s) bool -> (B, size, size) uint8: the set pixels of each SxS block (S = _SUPERSAMPLE). Strided
    adds, since numpy's sum over the two block axes was 7x slower and this is most of the drawing's time."""
    v = mask.view(np.uint8).reshape(mask.shape[0], size, _SUPERSAMPLE, size, _SUPERSAMPLE)
    rows = sum(v[:, :, :, :, j] for j in range(_SUPERSAMPLE))  # (B, size, S, size)
    return sum(rows[:, :, j] for j in range(_SUPERSAMPLE))


def draw_shapes(shape_i: np.ndarray, colour_i: np.ndarray, size_i: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Images (n, 3, size, size) uint8 of the given shape, colour and size indices; position,
    radius, colour jitter and background drawn from `rng`."""
    n = len(shape_i)
    radius = np.where(size_i == 0, rng.uniform(0.20, 0.24, n), rng.uniform(0.32, 0.38, n))
    # Large enough and centred enough (as CelebA's faces are aligned) that a small CPU-trained G
    # draws recognisable corners and apexes: with smaller, wandering, film-grained shapes it spent
    # its capacity on texture and drew round blobs (no confident squares after 6,000 steps).
    cx = 0.5 + rng.uniform(-0.05, 0.05, n)
    cy = 0.5 + rng.uniform(-0.05, 0.05, n)
    jitter = rng.integers(-10, 11, (n, 3))
    background = rng.integers(25, 56, n)

    # Masks are built from 1-D distances along x and y, broadcast, for chunks of images of one shape at
    # a time: several times faster than image by image, and the same pixels.
    s = size * _SUPERSAMPLE
    coords = (np.arange(s) + 0.5) / s
    palette = np.array(list(COLOURS.values()), dtype=np.int16)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    chunk = max(1, _CHUNK_PIXELS // (s * s))
    for lo in range(0, n, chunk):
        k = np.arange(lo, min(n, lo + chunk))
        mask = np.empty((len(k), s, s), dtype=bool)
        for which, draw in enumerate((_circle, _square, _triangle)):
            j = np.flatnonzero(shape_i[k] == which)
            if len(j):
                i = k[j]
                mask[j] = draw(coords[None, None, :] - cx[i, None, None], coords[None, :, None] - cy[i, None, None],
                               radius[i, None, None])
        cover = _block_counts(mask, size) / float(_SUPERSAMPLE * _SUPERSAMPLE)  # (B, size, size) in [0, 1]
        colour = np.clip(palette[colour_i[k]] + jitter[k], 0, 255)  # (B, 3)
        bg = background[k, None, None, None]
        img = bg + cover[:, None] * (colour[:, :, None, None] - bg)
        images[k] = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    return images
