"""CelebA-shaped files whose pictures show three of their 40 attributes, and a generator fitted to draw them.

The files are in CelebA's real layout (img_align_celeba/*.jpg at 178x218, list_attr_celeba.txt with
the 40 official names and +1/-1 values, list_eval_partition.txt), so the real loader reads them.
Three attributes are drawn so that a rule on pixels can read them back, independently of any
model: Male (the face's colour: blue for men, pink for women), Smiling (a white mouth) and
Eyeglasses (a black bar across the eyes). The other 37 are random labels that the pictures do not show.
Used by the tests (arithmetic on independent labels) and by benchmarks/arithmetic_check.py --celeba.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch

CELEBA_NAMES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair Blond_Hair "
    "Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
    "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose Receding_Hairline "
    "Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick "
    "Wearing_Necklace Wearing_Necktie Young"
).split()
DRAWN = ("Male", "Smiling", "Eyeglasses")


def draw_face(male: int, smiling: int, glasses: int) -> np.ndarray:
    """(218, 178, 3) uint8: CelebA's aligned size, the face in the centre square the loader crops."""
    y, x = np.mgrid[0:218, 0:178]
    img = np.full((218, 178, 3), 90, np.uint8)
    face = ((x - 89) / 60) ** 2 + ((y - 109) / 72) ** 2 <= 1
    img[face] = (90, 130, 230) if male else (235, 170, 170)
    if glasses:
        img[82:102, 34:144] = 10
    if smiling:
        img[138:156, 56:122] = 250
    return img


def write_drawn_celeba(root: Path, n: int = 480, seed: int = 0) -> Path:
    """Write n images (every combination of the drawn attributes equally often) under root/celeba."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = root / "celeba"
    (base / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    combos = list(itertools.product((0, 1), repeat=3))
    lines, part = [str(n), " ".join(CELEBA_NAMES)], []
    for i in range(n):
        drawn = dict(zip(DRAWN, combos[i % len(combos)]))
        fname = f"{i + 1:06d}.jpg"
        Image.fromarray(draw_face(*drawn.values())).save(base / "img_align_celeba" / fname, quality=95)
        values = [drawn.get(name, int(rng.random() < 0.3)) for name in CELEBA_NAMES]
        lines.append(f"{fname} " + " ".join(f"{1 if v else -1:2d}" for v in values))
        part.append(f"{fname} {2 if i >= n - n // 8 else 0}")
    (base / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (base / "list_eval_partition.txt").write_text("\n".join(part) + "\n")
    return root


def drawn_of_z(z: torch.Tensor) -> torch.Tensor:
    """What the fitted generator draws for z: Male = z[0] > 0, Smiling = z[1] > 0, Eyeglasses = z[2] > 0."""
    return (z[:, :3] > 0).long()


def read_face(images: torch.Tensor) -> torch.Tensor:
    """(B, 3) Male, Smiling, Eyeglasses read from pixels ([-1, 1], any size): a rule, not a model."""
    x = (images.float() + 1) * 127.5
    s = x.shape[-1]

    def region(top: float, bottom: float, left: float, right: float) -> torch.Tensor:
        t, b, left_, r = int(top * s), int(bottom * s), int(left * s), int(right * s)
        return x[:, :, t : max(b, t + 1), left_ : max(r, left_ + 1)]

    # the crop keeps rows 20..198 of 218: face centre at 0.5, eyes at 0.38-0.45, mouth at 0.68-0.76
    cheek = region(0.52, 0.62, 0.3, 0.4).mean((2, 3))
    male = cheek[:, 2] > cheek[:, 0]
    glasses = region(0.38, 0.44, 0.25, 0.75).mean((1, 2, 3)) < 60
    smiling = region(0.68, 0.74, 0.38, 0.62).mean((1, 2, 3)) > 215
    return torch.stack([male, smiling, glasses], 1).long()


def fit_generator(images: np.ndarray, labels: np.ndarray, label_names: list[str], cfg, steps: int = 600, seed: int = 0):
    """A generator that draws, for any z, the data set's mean picture of the attributes drawn_of_z reads
    (regression: seconds, where a GAN takes minutes). Returns (G, D) with the data's pixel range."""
    from dcgan_cli.core.model import Discriminator, Generator
    from dcgan_cli.core.pixels import to_model_range

    cols = [label_names.index(a) for a in DRAWN]
    table = {}
    for combo in itertools.product((0, 1), repeat=3):
        rows = np.all(labels[:, cols] == np.array(combo), axis=1)
        table[combo] = to_model_range(torch.from_numpy(images[rows])).mean(0)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        G, D = Generator(cfg), Discriminator(cfg)
        opt = torch.optim.Adam(G.parameters(), lr=2e-3)
        for _ in range(steps):
            z = torch.randn(64, cfg.nz)
            target = torch.stack([table[tuple(row)] for row in drawn_of_z(z).tolist()])
            loss = (G(z) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return G, D
