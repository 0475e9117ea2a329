"""A data set's classifier: a small CNN trained once on the real labelled images, then cached.

One network serves every consumer: arithmetic, ablate and the z probe label generated samples
with it (Radford et al. suggest a linear model on D's features; a small CNN trained on the real
labels is more accurate and just as cheap), and `dcgan evaluate --features domain` uses its
penultimate layer as the feature space. It belongs to the data, not to a run: it is cached in
the data cache folder, keyed by the data's fingerprint, so a second run folder (or a second
command) on the same data set loads it instead of training it again.

Labels that exclude each other (a digit's class; a shape, a colour, a size) form a group with
one softmax, so an image cannot be "red 0.93 and blue 0.99" at once; labels in no group (the
40 CelebA attributes) get independent sigmoids.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.defaults import ATTRIBUTE_IMAGES
from ..core.errors import DcganError
from ..core.fitting import minimise
from ..core.pixels import to_model_range
from ..core.progress import Progress, phase
from ..core.tensor_cache import read_cached, write_cached
from ..data.cache import ImageData, default_cache_root

# Changes whenever the training recipe does, so cached classifiers (and banks labelled by them) are rebuilt.
RECIPE = 6
MAX_IMAGES = ATTRIBUTE_IMAGES
EPOCHS = 6
MIN_STEPS = 300  # a few hundred images need more passes than 6 to be learned; data sets over ~7,000 images are unchanged


def epochs_for(n: int, batch_size: int = 128) -> int:
    """Passes over n labelled images (a tenth held out): EPOCHS, or more when that is under MIN_STEPS steps."""
    batches = max(1, math.ceil((n - max(1, n // 10)) / batch_size))
    return max(EPOCHS, math.ceil(MIN_STEPS / batches))


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
    key: str = ""  # names the data and recipe it was trained on: caches derived from it use it
    path: Path | None = None  # its cache file
    reused: bool = False  # loaded from the cache rather than trained now

    def describe(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "heldout": self.heldout, "key": self.key,
                "path": str(self.path) if self.path else None, "reused": self.reused}

    def note(self) -> str:
        how = f"reused the cached {self.path}" if self.reused else f"trained now, cached in {self.path}"
        return f"attribute model: {self.accuracy:.1%} accuracy on {self.heldout:,} held-out real images ({how})"

    @torch.no_grad()
    def features(self, images_u8: torch.Tensor) -> torch.Tensor:
        """The pooled penultimate layer (B, 4 * width), float64 on the CPU, of uint8 images."""
        self.net.eval()
        device = next(self.net.parameters()).device
        return self.net.features(to_model_range(images_u8.to(device))).double().cpu()

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
    from torchvision.transforms.v2.functional import gaussian_blur  # here: torchvision takes 1.5 s to import (see images.py)

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
    epochs: int | None = None,
    max_images: int = MAX_IMAGES,
    batch_size: int = 128,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_progress: Progress | None = None,
) -> AttributeModel:
    """Fit on up to max_images real images, keeping a tenth of them aside to measure accuracy;
    epochs None: epochs_for the images used."""
    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    n = min(images.shape[0], max_images)
    epochs = epochs if epochs is not None else epochs_for(n, batch_size)
    order = torch.randperm(images.shape[0], generator=g)[:n].numpy()
    n_test = max(1, n // 10)
    test_idx, train_idx = np.sort(order[:n_test]), order[n_test:]
    torch.manual_seed(seed)
    net = AttributeNet(images.shape[1], labels.shape[1]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    y_all = torch.from_numpy(np.asarray(labels)).float()
    cols, free = group_columns(label_names, groups or [])
    net.train()
    per_epoch = len(range(0, len(train_idx) - 1, batch_size))

    def batches():  # sorted indices (a memory-mapped cache reads them in order); drawn lazily, as degrade draws from g
        for _ in range(epochs):
            perm = train_idx[torch.randperm(len(train_idx), generator=g).numpy()]
            for i in range(0, len(perm) - 1, batch_size):
                yield np.sort(perm[i : i + batch_size])

    def loss_of(idx: np.ndarray) -> torch.Tensor:
        x = to_model_range(torch.from_numpy(np.array(images[idx])).to(device))
        half = len(idx) // 2  # half of each batch degraded, half clean
        x = torch.cat([x[:half], degrade(x[half:], g)])
        return label_loss(net(x), y_all[idx].to(device), cols, free)

    # progress by batch: the time left is known within seconds of the start
    minimise(opt, batches(), epochs * per_epoch, loss_of, on_progress=on_progress)
    clean_batch_norm(net, images, train_idx, batch_size, device)
    model = AttributeModel(net.eval(), label_names, 0.0, n_test, list(groups or []))
    probs = model.predict(to_model_range(images[test_idx]))
    model.accuracy = attribute_accuracy(probs, y_all[test_idx], cols, free)
    return model


@torch.no_grad()
def clean_batch_norm(net: nn.Module, images: np.ndarray, idx: np.ndarray, batch_size: int, device: torch.device) -> None:
    """Batch norm's running statistics recomputed over clean training images. Training batches are half
    degraded (noise on MNIST's black ground doubles some channels' variance), and the running averages of
    those mixed batches misread clean images in eval mode: 56% of MNIST digits right against 97%."""
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over every batch below
    net.train()
    for i in range(0, len(idx), batch_size):
        net(to_model_range(torch.from_numpy(np.array(images[np.sort(idx[i : i + batch_size])])).to(device)))
    for m in norms:
        m.momentum = 0.1
    net.eval()


def attribute_accuracy(probs: torch.Tensor, y: torch.Tensor, groups: list[list[int]], free: list[int]) -> float:
    """Mean accuracy over attributes: a group (the digit, the shape) is right when its top reading is the
    label, a free label when thresholded at 0.5. Per column, a 10-way group scored 90% for reading nothing."""
    right = [(probs[:, cols].argmax(1) == y[:, cols].argmax(1)).float().mean() for cols in groups]
    right += [((probs[:, j] > 0.5).float() == y[:, j]).float().mean() for j in free]
    return float(torch.stack(right).mean()) if right else 0.0


def classes_to_learn(data: ImageData) -> int:
    """How many things the labels tell apart: the classes present in the largest exclusive group,
    or 2 when some independent label is both on and off somewhere; 0 or 1 means nothing to learn
    (a folder whose images all sit in one subfolder is one class)."""
    if data.labels is None or not data.label_names:
        return 0
    present = np.asarray(data.labels).max(0) if len(data.labels) else np.zeros(len(data.label_names))
    groups, free = group_columns(data.label_names, data.groups)
    best = max((int(present[cols].sum()) for cols in groups), default=0)
    if any(0 < int(np.asarray(data.labels)[:, i].sum()) < len(data.labels) for i in free):
        best = max(best, 2)
    return best


def labels_problem(data: ImageData) -> str | None:
    """Why `data` has nothing for a classifier to learn ("has no labels here", "has one class only
    (cats)"), or None when its labels tell two or more classes apart."""
    if classes_to_learn(data) >= 2:
        return None
    return "has no labels here" if not data.label_names else f"has one class only ({', '.join(data.label_names)})"


def training_label(data: ImageData, max_images: int = MAX_IMAGES) -> str:
    """What first use is doing, said before it starts: the one-time training of the data set's classifier."""
    n = min(int(data.images.shape[0]), max_images)
    return (f"batches training the {data.name} {data.size} px classifier, once for this data set "
            f"({n:,} images x {epochs_for(n)} epochs; then cached)")


def classifier_path(data: ImageData, max_images: int = MAX_IMAGES) -> tuple[Path, str]:
    """Where the classifier of `data` is cached, and its key (data fingerprint, labels, recipe)."""
    ident = json.dumps([data.name, data.size, data.channels, data.fingerprint, str(data.cache_dir), data.label_names,
                        data.groups, max_images, RECIPE])
    key = f"{data.name}-{data.size}px-" + hashlib.sha256(ident.encode()).hexdigest()[:12]
    root = Path(data.cache_dir).parent if data.cache_dir is not None else default_cache_root()
    return root / "classifiers" / f"{key}.safetensors", key


def dataset_classifier(data: ImageData, *, max_images: int = MAX_IMAGES, device: torch.device | str = "cpu",
                       on_progress: Progress | None = None) -> AttributeModel:
    """The classifier of `data` (its training split's real labelled images): from the cache, or
    trained now and cached. Training runs under fork_rng, so callers' random streams do not move."""
    if data.labels is None or not data.label_names:
        raise DcganError(f"{data.name} has no labels here, so there is no attribute classifier to train")
    if classes_to_learn(data) < 2:
        raise DcganError(f"{data.name} has one class only ({', '.join(data.label_names)}): a classifier learns nothing "
                         "from it; use --features inception, or a data set with at least two classes")
    if max_images < 20:
        raise DcganError(f"the attribute classifier needs at least 20 real images, got {max_images}")
    path, key = classifier_path(data, max_images)
    net = AttributeNet(data.channels, len(data.label_names))

    def fits(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> bool:
        net.load_state_dict(tensors)  # raises on a wrong shape or name: the cache is rebuilt
        return meta.get("key") == key and isinstance(meta.get("accuracy"), float) and isinstance(meta.get("heldout"), int)

    cached = read_cached(path, fits)
    if cached is not None:
        meta = cached[1]
        return AttributeModel(net.to(device).eval(), list(data.label_names), meta["accuracy"], meta["heldout"],
                              list(data.groups), key, path, True)
    d = torch.device(device)
    with torch.random.fork_rng(devices=[d.index or 0] if d.type == "cuda" else []):
        # Named here, so every first use says what the wait is (a caller's own name for it wins).
        model = train_attribute_model(data.images, data.labels, data.label_names, groups=data.groups, max_images=max_images,
                                      device=device, on_progress=phase(on_progress, training_label(data, max_images)))
    write_cached(path, model.net.state_dict(), {"key": key, "accuracy": model.accuracy, "heldout": model.heldout,
                                                "data": data.name, "fingerprint": data.fingerprint}, what="attribute classifier")
    model.key, model.path = key, path
    return model
