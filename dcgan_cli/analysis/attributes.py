"""A small attribute classifier trained on a data set's real labelled images.

Latent arithmetic uses it to label generated samples, so that concept vectors come from the
model's own outputs with no manual picking (Radford et al. suggest a linear model on D's
features; a small CNN trained on the real labels is more accurate and just as cheap here), and
`dcgan evaluate --features domain` uses its penultimate layer as the feature space.

Labels that exclude each other (a digit's class; a shape, a colour, a size) form a group with
one softmax, so an image cannot be "red 0.93 and blue 0.99" at once; labels in no group (the
40 CelebA attributes) get independent sigmoids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2.functional import gaussian_blur

from ..pixels import to_model_range

# Changes whenever the training recipe does, so cached sample banks labelled by an older model are rebuilt.
ATTRIBUTE_RECIPE = 3


class AttributeNet(nn.Module):
    """(B, C, S, S) in [-1, 1] -> (B, A) logits, one per label column; features() -> (B, 4 * width)."""

    def __init__(self, channels: int, n_labels: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2),  # (B, w, S/2, S/2)
            nn.Conv2d(width, width * 2, 4, 2, 1), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2),  # (B, 2w, S/4, S/4)
            nn.Conv2d(width * 2, width * 4, 3, 2, 1), nn.BatchNorm2d(width * 4), nn.LeakyReLU(0.2),  # (B, 4w, S/8, S/8)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (B, 4w)
            nn.Linear(width * 4, n_labels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate layer (B, 4 * width): the domain feature space."""
        return self.net[:-1](x)


def group_columns(label_names: list[str], groups: list[list[str]]) -> tuple[list[list[int]], list[int]]:
    """Column indices of each exclusive group (of two or more labels), and of the labels in none."""
    cols = [[label_names.index(n) for n in g if n in label_names] for g in groups]
    cols = [c for c in cols if len(c) >= 2]
    grouped = {i for c in cols for i in c}
    return cols, [i for i in range(len(label_names)) if i not in grouped]


def label_probabilities(logits: torch.Tensor, groups: list[list[int]], free: list[int]) -> torch.Tensor:
    """(B, A) logits -> probabilities: a softmax within each group, a sigmoid for every free label."""
    p = torch.empty_like(logits)
    for cols in groups:
        p[:, cols] = torch.softmax(logits[:, cols], dim=1)
    if free:
        p[:, free] = torch.sigmoid(logits[:, free])
    return p


def label_loss(logits: torch.Tensor, y: torch.Tensor, groups: list[list[int]], free: list[int]) -> torch.Tensor:
    """Cross-entropy per group (its one-hot target), binary cross-entropy for free labels."""
    loss = logits.new_zeros(())
    for cols in groups:
        loss = loss + F.cross_entropy(logits[:, cols], y[:, cols].argmax(1))
    if free:
        loss = loss + F.binary_cross_entropy_with_logits(logits[:, free], y[:, free])
    return loss


@dataclass
class AttributeModel:
    net: AttributeNet
    label_names: list[str]
    accuracy: float  # mean per-attribute accuracy on held-out real images
    heldout: int
    groups: list[list[str]] = field(default_factory=list)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
        """Probabilities (B, A) for images in [-1, 1]: per-group softmax, free labels by sigmoid."""
        self.net.eval()
        device = next(self.net.parameters()).device
        cols, free = group_columns(self.label_names, self.groups)
        out = [label_probabilities(self.net(images[i : i + batch_size].to(device)), cols, free).cpu()
               for i in range(0, images.shape[0], batch_size)]
        return torch.cat(out)


def degrade(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Make real images (B, C, S, S) in [-1, 1] look more like a GAN's: blurred, noisy, shifted.

    Trained on clean real images alone, the classifier reads texture: it called most of an
    undertrained generator's speckled blobs 'triangle'. Seeing degraded copies, it learns to
    judge outline and colour, which is what the labels are about.
    """
    b = x.shape[0]
    sigma = float(torch.empty(1).uniform_(0.1, 1.2, generator=g))
    x = gaussian_blur(x, [5, 5], [sigma, sigma])
    # Drawn on the CPU from the seeded generator, so a GPU run degrades exactly as a CPU run does.
    x = x + (torch.randn(x.shape, generator=g) * torch.rand(b, 1, 1, 1, generator=g) * 0.2).to(x.device)
    dy, dx = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
    return torch.roll(x, (dy, dx), dims=(2, 3)).clamp_(-1, 1)


def train_attribute_model(
    images: np.ndarray,
    labels: np.ndarray,
    label_names: list[str],
    *,
    groups: list[list[str]] | None = None,
    epochs: int = 6,
    max_images: int = 30_000,
    batch_size: int = 128,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_progress: Callable[[int, int], None] | None = None,
) -> AttributeModel:
    """Fit on up to max_images real images, keeping a tenth of them aside to measure accuracy."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    n = min(images.shape[0], max_images)
    order = torch.randperm(images.shape[0], generator=g)[:n].numpy()
    n_test = max(1, n // 10)
    test_idx, train_idx = np.sort(order[:n_test]), order[n_test:]
    torch.manual_seed(seed)
    net = AttributeNet(images.shape[1], labels.shape[1]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    y_all = torch.from_numpy(np.asarray(labels)).float()
    cols, free = group_columns(label_names, groups or [])
    net.train()
    for epoch in range(epochs):
        if on_progress is not None:
            on_progress(epoch, epochs)
        perm = train_idx[torch.randperm(len(train_idx), generator=g).numpy()]
        for i in range(0, len(perm) - 1, batch_size):
            idx = np.sort(perm[i : i + batch_size])
            x = to_model_range(torch.from_numpy(np.array(images[idx])).to(device))
            half = len(idx) // 2  # half of each batch degraded, half clean
            x = torch.cat([x[:half], degrade(x[half:], g)])
            loss = label_loss(net(x), y_all[idx].to(device), cols, free)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model = AttributeModel(net.eval(), label_names, 0.0, n_test, list(groups or []))
    probs = model.predict(to_model_range(images[test_idx]))
    model.accuracy = float(((probs > 0.5).float() == y_all[test_idx]).float().mean())
    return model
