"""How linearly a checkpoint's z holds each attribute (the StyleGAN paper's linear-separability idea).

Vector arithmetic can only move what a linear function of z predicts: an attribute whose values
a logistic regression on z separates well moves along a direction; one it predicts no better
than always guessing the commonest value will not follow any concept vector. Measured on the
arithmetic sample bank (generated samples labelled by the attribute model), held-out quarter.
"""

from __future__ import annotations

import numpy as np

from .arithmetic import SampleBank
from .expectations import Attribute
from .probe import linear_probe


def separability(bank: SampleBank, attrs: list[Attribute], *, confidence: float = 0.8, seed: int = 0) -> list[dict]:
    """Per attribute: held-out accuracy of z -> value, the majority rate, samples used and a verdict."""
    out = []
    z = bank.z.numpy()
    for attr in attrs:
        value, p = attr.read(bank.probs)
        keep = (p >= confidence).numpy()
        y = value.numpy()[keep]
        row = {"attribute": attr.name, "samples": int(keep.sum())}
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) < 2 or counts.min() < 4 or len(y) < 40:
            out.append(row | {"accuracy": None, "majority": None, "verdict": "too few confident samples of each value to tell"})
            continue
        order = np.random.default_rng(seed).permutation(len(y))
        cut = len(y) * 3 // 4
        tr, te = order[:cut], order[cut:]
        accuracy, _ = linear_probe(z[keep][tr], y[tr], z[keep][te], y[te], seed=seed)
        majority = float(np.bincount(y[te]).max() / len(te))
        # Judged by the share of the commonest-value error that z removes: 94% against a 90%
        # commonest value is not linear, 96% against 29% is.
        gain = (accuracy - majority) / max(1 - majority, 1e-9)
        row["gain"] = round(gain, 4)
        if gain >= 0.8:
            verdict = "linear: one direction moves it everywhere"
        elif gain >= 0.4:
            verdict = "partly linear: a direction for all of z moves it in some places"
        else:
            verdict = "not linear over all of z: only directions measured near the anchor (--method anchored) move it"
        out.append(row | {"accuracy": round(accuracy, 4), "majority": round(majority, 4), "verdict": verdict})
    return out


def run(ckpt, *, samples: int = 16384, attr_images: int = 30_000, seed: int = 0, ema: bool | None = None, device="cpu",
        data_root=None, cache_dir=None, on_progress=None) -> dict:
    """The checkpoint's separability report: its sample bank (built or cached), one row per attribute."""
    from ..checkpoint import as_checkpoint
    from ..data import checkpoint_data
    from ..errors import DcganError, UsageError
    from .arithmetic import sample_bank
    from .expectations import attributes_of

    if not 16 <= samples <= 1_000_000:
        raise UsageError(f"--samples must be 16 to 1,000,000, got {samples}")
    c = as_checkpoint(ckpt)
    label_names = c.dataset.get("label_names") or []
    if not label_names:
        raise UsageError("this data set has no labels, so there are no attributes to probe z for")
    data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    if data.label_names != label_names:
        raise DcganError(f"the data in {data.cache_dir} has other labels than the checkpoint records; pass the data set it was trained on")
    bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema, on_progress=on_progress)
    rows = separability(bank, attributes_of(label_names, data.groups), seed=seed)
    return {"checkpoint": str(c.path), "step": c.step, "samples": samples, "attribute_model_accuracy": bank.accuracy, "attributes": rows}
