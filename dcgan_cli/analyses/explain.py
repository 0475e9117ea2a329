"""What D looks at (Radford et al. 2015, section 6.2, figure 5): guided backpropagation of
features of D's last convolution block onto real images, for the trained D and a random one.

Guided backpropagation (Springenberg et al. 2015) passes a gradient back through an activation
only where both the activation's input and the incoming gradient are positive, which leaves the
image evidence that raised the feature. As in the paper, the first features of the last block
are shown, each on the real images that excite it most (its maximal response over all positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.defaults import EXPLAIN_FEATURES, EXPLAIN_N, EXPLAIN_PER
from ..core.errors import UsageError
from ..core.model import Discriminator
from ..core.pixels import to_model_range
from ..core.results import Result
from ..core.seeds import check_seed
from ..data import checkpoint_data
from .masks import object_mask


@dataclass
class Explanation(Result):
    command = "explain"
    features: list[int]  # the channels of D's last block shown
    trained: torch.Tensor = field(repr=False)  # (F * per, C, S, S) guided gradients in [-1, 1], a row per feature
    random: torch.Tensor = field(repr=False)
    images: torch.Tensor = field(repr=False)  # (F * per, C, S, S) the real images the trained rows use, [-1, 1]
    on_object: dict[str, float] = field(default_factory=dict)  # share of |gradient| on the object, per D
    per: int = EXPLAIN_PER
    seed: int = 0
    checkpoint_path: Path | None = None
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint_path), "step": self.step, "features": self.features,
                "per": self.per, "seed": self.seed, "gradient_share_on_object": self.on_object}

    def default_name(self) -> str:
        return f"features-{len(self.features)}-per-{self.per}-seed{self.seed}.png"

    def figure(self):
        from ..core.images import labelled_grid

        # Per feature three rows: the real images that excite it most, the trained D's guided
        # gradients on them, the random D's on the same images.
        f = len(self.features)
        images, trained, random = (t.view(f, self.per, *t.shape[1:]) for t in (self.images, self.trained, self.random))
        rows, names = [], []
        for i, feature in enumerate(self.features):
            rows += [images[i], trained[i], random[i]]
            names += [f"feature {feature}: images", "trained D", "random D"]
        return labelled_grid(rows, names, [f"#{k + 1}" for k in range(self.per)], min_cell=96,
                             title="what D looks at: guided backpropagation of its last block's features")

    def lines(self) -> list[str]:
        s = self.on_object
        return [f"share of the guided gradient on the object: trained D {s['trained D']:.1%}, random D {s['random D']:.1%}",
                "picture: per feature, the images, the trained D's gradients, the random D's"]


class _Guided:
    """Hooks that make every activation of a module pass back only positive gradient where its input was positive."""

    def __init__(self, model: nn.Module):
        self.handles, self.inplace = [], []
        for m in model.modules():
            if isinstance(m, (nn.ReLU, nn.LeakyReLU)):
                self.inplace.append((m, m.inplace))
                m.inplace = False  # a backward hook needs the activation's input kept
                self.handles.append(m.register_forward_hook(self._remember))
                self.handles.append(m.register_full_backward_hook(self._guide))

    @staticmethod
    def _remember(module, inputs, output):
        module._guided_positive = inputs[0] > 0

    @staticmethod
    def _guide(module, grad_in, grad_out):
        return (grad_out[0].clamp(min=0) * module._guided_positive,)

    def close(self) -> None:
        for h in self.handles:
            h.remove()
        for m, inplace in self.inplace:
            m.inplace = inplace


def guided_gradients(D: Discriminator, images: torch.Tensor, feature: int) -> torch.Tensor:
    """d(max over positions of feature `feature` of D's last block)/d(image), guided; (B, C, S, S)."""
    D.eval()
    guide = _Guided(D)
    try:
        x = images.clone().requires_grad_(True)
        response = D.feature_maps(x)[-1][:, feature].flatten(1).amax(1)
        (grad,) = torch.autograd.grad(response.sum(), x)
    finally:
        guide.close()
    return grad


def _scaled(g: torch.Tensor) -> torch.Tensor:
    """Each gradient image to [-1, 1] by its own largest magnitude, for display."""
    return g / g.flatten(1).abs().amax(1).clamp(min=1e-12)[:, None, None, None]


def explain_features(D: Discriminator, random_D: Discriminator, images: torch.Tensor, *, features: int = EXPLAIN_FEATURES,
                     per: int = EXPLAIN_PER) -> Explanation:
    """Rows of guided gradients: for each of D's first `features` last-block features, the `per`
    images (of `images`, in [-1, 1]) that excite it most; the random D on the same images."""
    channels = D.feature_maps(images[:1])[-1].shape[1]
    if not 1 <= features <= channels:
        raise UsageError(f"--features must be 1 to {channels} (D's last block has {channels}), got {features}")
    if not 1 <= per <= images.shape[0]:
        raise UsageError(f"--per must be 1 to {images.shape[0]}, got {per}")
    with torch.no_grad():
        responses = D.eval().feature_maps(images)[-1].flatten(2).amax(2)  # (N, channels)
    chosen, trained, rand = [], [], []
    for f in range(features):
        top = images[responses[:, f].argsort(descending=True)[:per]]
        chosen.append(top)
        trained.append(guided_gradients(D, top, f))
        rand.append(guided_gradients(random_D, top, f))
    imgs, g_t, g_r = torch.cat(chosen), torch.cat(trained), torch.cat(rand)
    mask = object_mask(imgs, imgs.shape[-1])[:, None]  # (B, 1, S, S)

    def share(g: torch.Tensor) -> float:
        mass = g.abs().sum(1, keepdim=True)
        return float((mass * mask).sum() / mass.sum().clamp(min=1e-12))

    return Explanation(features=list(range(features)), trained=_scaled(g_t), random=_scaled(g_r), images=imgs,
                       on_object={"trained D": share(g_t), "random D": share(g_r)}, per=per)


def explain(ckpt: Checkpoint | str | Path | None, *, n: int = EXPLAIN_N, features: int = EXPLAIN_FEATURES, per: int = EXPLAIN_PER,
            seed: int = 0, data_root: Path | None = None, cache_dir: Path | None = None,
            device: torch.device | str = "cpu") -> Explanation:
    """`dcgan explain`: the checkpoint's D and a random D of its architecture on n real test images."""
    check_seed(seed)
    c = as_checkpoint(ckpt)
    if not 1 <= n <= 100_000:
        raise UsageError(f"--n must be 1 to 100,000, got {n}")
    data = checkpoint_data(c, "test", data_root=data_root, cache_dir=cache_dir)
    held = data.images.shape[0]
    if per > min(n, held):
        why = (f"the test split of {data.name} holds {held:,} image(s)" if held < n else f"--n {n} gives {n} image(s)")
        raise UsageError(f"--per {per} asks for more images a row than there are: {why}; give --per {min(n, held)} or fewer"
                         + (", or a model of a data set with a larger test split" if held < n else ", or a larger --n"))
    rows = np.sort(np.random.default_rng(seed).permutation(held)[:n])
    images = to_model_range(torch.from_numpy(np.ascontiguousarray(data.images[rows]))).to(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random_D = Discriminator(c.model_config).to(device)
    result = explain_features(c.discriminator(device), random_D, images, features=features, per=per)
    result.seed, result.checkpoint_path, result.step = seed, c.path, c.step
    return result
