"""What a projection's numbers mean on this G: the distances real images G never trained on reach
when projected the same way, and whether a picture's background is like the data's.

A pixel MSE of 0.21 says nothing alone; beside "held-out real images: 0.04" it says the picture is
far from anything G draws. The reference is projected once per generator and settings, from the
data set's test split (a folder's held-out fiftieth), and cached in the run's concepts/ folder.
"""

from __future__ import annotations

import numpy as np
import torch

from ..attributes.bank import concepts_file
from ..core.checkpoint import Checkpoint
from ..core.errors import DcganError
from ..core.pixels import to_model_range
from ..core.progress import Progress, phase
from ..core.tensor_cache import read_cached, write_cached

REFERENCE_IMAGES = 8  # held-out real images projected for the scale
BORDER = 8  # the outer 1/BORDER of each side is the picture's background
FAR = 3.0  # standard deviations of the data's backgrounds from which a picture's is called far


def held_out(c: Checkpoint, data_root=None, cache_dir=None) -> np.ndarray | None:
    """(N, C, S, S) uint8 real images G was not trained on, evenly spread over the test split; None without one."""
    from ..data import checkpoint_data

    try:
        data = checkpoint_data(c, "test", data_root=data_root, cache_dir=cache_dir)
    except DcganError:
        return None
    n = data.images.shape[0]
    if n == 0:
        return None
    pick = np.linspace(0, n - 1, min(REFERENCE_IMAGES, n)).round().astype(int)
    return np.asarray(data.images[np.unique(pick)])


def reference(c: Checkpoint, G, D, settings, encoder, key: list, *, device="cpu", data_root=None, cache_dir=None,
              on_progress: Progress | None = None) -> dict | None:
    """Median pixel MSE and feature distance of held-out real images projected as `settings` project
    (cached per checkpoint, generator and settings, `key`); None when the data set cannot be found."""
    from .optimise import find_z

    path = concepts_file(c, "projection-scale", *key)
    cached = read_cached(path, lambda t, meta: set(t) == {"pixel_mse", "feature_distance"})
    if cached is not None:
        t = cached[0]
    else:
        real = held_out(c, data_root, cache_dir)
        if real is None:
            return None
        label = f"projecting {len(real)} held-out real images the same way, once, for the scale (then cached)"
        found = find_z(G, D, to_model_range(torch.from_numpy(real)).to(device), settings, encoder=encoder,
                       on_progress=phase(on_progress, label))
        t = {"pixel_mse": found.pixel_mse.cpu(), "feature_distance": found.feature_distance.cpu()}
        write_cached(path, t, {"checkpoint": str(c.path)}, what="projection scale")
    return {k: float(v.median()) for k, v in t.items()} | {"images": int(t["pixel_mse"].numel())}


def _border(images: torch.Tensor) -> torch.Tensor:
    """(N, C) mean of each picture's outer frame, in [-1, 1]."""
    s = images.shape[-1]
    w = max(1, s // BORDER)
    mask = torch.ones(s, s, dtype=torch.bool)
    mask[w:-w, w:-w] = False
    return images[..., mask].float().mean(-1)


def background_notes(c: Checkpoint, names: list[str], targets: torch.Tensor, data_root=None, cache_dir=None) -> list[str]:
    """A note per picture whose background (its outer frame) is far from the training images'."""
    from ..data import checkpoint_data

    try:
        data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    except DcganError:
        return []
    n = data.images.shape[0]
    pick = np.unique(np.linspace(0, n - 1, min(512, n)).round().astype(int))
    real = _border(to_model_range(torch.from_numpy(np.asarray(data.images[pick]))))
    mean, std = real.mean(0), real.std(0).clamp_min(0.02)
    notes = []
    for name, b in zip(names, _border(targets)):
        z = ((b - mean) / std).abs().max()
        if float(z) > FAR:
            notes.append(f"note: {name}'s background (its outer frame) is {float(z):.0f} standard deviations from the "
                         f"training images' ({data.name}); G draws backgrounds like its data's, so it cannot match this one: "
                         "crop to the subject or put it on a background like the data's")
    return notes
