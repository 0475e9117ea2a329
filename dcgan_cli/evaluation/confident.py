"""How legible a generator's samples are: the share its data set's classifier reads confidently."""

from __future__ import annotations

import torch

from ..attributes.classifier import dataset_classifier, group_columns
from ..attributes.expectations import SURE
from ..core.pixels import to_model_range


def confident_share(images_u8: torch.Tensor, data) -> float:
    """Share of uint8 images the data set's classifier reads with p >= SURE in every attribute: the
    top value of each group (shape, colour, digit) that sure, each yes/no label that sure either way."""
    model = dataset_classifier(data)
    p = model.predict(to_model_range(images_u8))
    cols, free = group_columns(model.label_names, model.groups)
    sure = torch.ones(p.shape[0], dtype=torch.bool)
    for group in cols:
        sure &= p[:, group].max(dim=1).values >= SURE
    for j in free:
        sure &= (p[:, j] >= SURE) | (p[:, j] <= 1 - SURE)
    return float(sure.float().mean())


def class_counts(images_u8: torch.Tensor, data) -> dict[str, int]:
    """How many images the classifier reads as each value of the data set's first attribute group (the digit,
    the shape), counted by its top reading: whether a generator draws every class, and how evenly."""
    model = dataset_classifier(data)
    p = model.predict(to_model_range(images_u8))
    cols, _ = group_columns(model.label_names, model.groups)
    if not cols:
        return {}
    top = p[:, cols[0]].argmax(dim=1)
    return {model.label_names[j]: int((top == i).sum()) for i, j in enumerate(cols[0])}
