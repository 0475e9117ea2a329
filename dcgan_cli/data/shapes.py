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

    s = size * _SUPERSAMPLE
    coords = (np.arange(s) + 0.5) / s
    yy, xx = np.meshgrid(coords, coords, indexing="ij")  # (s, s) each, y down
    palette = np.array(list(COLOURS.values()), dtype=np.int16)
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    for i in range(n):
        dx, dy, r = xx - cx[i], yy - cy[i], radius[i]
        if shape_i[i] == 0:
            mask = dx * dx + dy * dy <= r * r
        elif shape_i[i] == 1:
            half = r * 0.86  # similar area to the circle
            mask = (np.abs(dx) <= half) & (np.abs(dy) <= half)
        else:
            top, bottom = -r, r * 0.8
            t = (dy - top) / (bottom - top)  # 0 at the apex, 1 at the base
            mask = (t >= 0) & (t <= 1) & (np.abs(dx) <= t * r * 1.1)
        cover = mask.reshape(size, _SUPERSAMPLE, size, _SUPERSAMPLE).mean(axis=(1, 3))  # (size, size) in [0, 1]
        colour = np.clip(palette[colour_i[i]] + jitter[i], 0, 255)
        img = background[i] + cover[None] * (colour[:, None, None] - background[i])
        images[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)

    return images
