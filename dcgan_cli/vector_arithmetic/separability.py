"""How linearly a checkpoint's z holds each attribute (the StyleGAN paper's linear-separability idea).

Vector arithmetic can only move what a linear function of z predicts: an attribute whose values
a logistic regression on z separates well moves along a direction; one it predicts no better
than always guessing the commonest value will not follow any concept vector. Measured on the
sample bank (generated samples labelled by the data set's classifier), held-out quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..attributes.bank import MAX_SAMPLES, MIN_SAMPLES, SampleBank, check_labels, sample_bank
from ..attributes.expectations import CONFIDENT, Attribute, attributes_of
from ..attributes.linear import linear_probe
from ..core.checkpoint import as_checkpoint
from ..core.defaults import ATTRIBUTE_IMAGES, BANK_SAMPLES
from ..core.errors import UsageError
from ..core.results import Result, shown
from ..core.seeds import check_seed
from ..data import checkpoint_data


@dataclass
class Separability(Result):
    command = "arithmetic"
    checkpoint_path: Path
    step: int
    samples: int
    attributes: list[dict[str, Any]]  # per attribute: accuracy, majority, samples, verdict
    classifier: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint_path), "step": self.step, "samples": self.samples,
                "attribute_model_accuracy": self.classifier.get("accuracy"), "classifier": self.classifier,
                "attributes": self.attributes}

    def lines(self) -> list[str]:
        out = [f"how linearly z holds each attribute ({self.samples} labelled samples, held-out quarter):"]
        for row in self.attributes:
            acc = (
                "" if row["accuracy"] is None else f"{row['accuracy']:.0%} (always the commonest value: {row['majority']:.0%}): "
            )
            out.append(f"  {shown(row['attribute'])}: {acc}{row['verdict']}")
        return out + self.notes


def separability(bank: SampleBank, attrs: list[Attribute], *, confidence: float = CONFIDENT, seed: int = 0) -> list[dict]:
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


def z_separability(ckpt, *, samples: int = BANK_SAMPLES, attr_images: int = ATTRIBUTE_IMAGES, seed: int = 0,
                   ema: bool | None = None,
                   device="cpu", data_root=None, cache_dir=None, on_progress=None) -> Separability:
    """The checkpoint's separability report: its sample bank (built or cached), one row per attribute."""
    check_seed(seed)
    if not MIN_SAMPLES <= samples <= MAX_SAMPLES:
        raise UsageError(f"--samples must be {MIN_SAMPLES} to {MAX_SAMPLES:,}, got {samples}")
    c = as_checkpoint(ckpt)
    if not c.dataset.label_names:
        raise UsageError("this data set has no labels, so there are no attributes to probe z for")
    data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    check_labels(c, data)
    bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=device, ema=ema, on_progress=on_progress)
    rows = separability(bank, attributes_of(data.label_names, data.groups), seed=seed)
    return Separability(checkpoint_path=c.path, step=c.step, samples=samples, attributes=rows,
                        classifier=bank.classifier.describe(), notes=[bank.classifier.note()])
