"""Presenting nn-search results: the neighbour grid picture and the JSON report."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from ..images import caption_below, grid_image
from ..pixels import flat_model_range
from .nn_search import Neighbours, SearchResult


def neighbour_grid(queries: torch.Tensor, data: np.ndarray, nb: Neighbours, min_cell: int = 64) -> Image.Image:
    """Rows of [query, neighbour 1..k], each neighbour captioned with its distance."""
    size = queries.shape[-1]
    scale = max(1, -(-min_cell // size))  # small images are enlarged so the captions fit
    rows = []
    for r in range(queries.shape[0]):
        neigh = flat_model_range(data[nb.indices[r].numpy()]).float().view(-1, *queries.shape[1:])  # rank order
        row = torch.cat([queries[r : r + 1].float(), neigh])
        if scale > 1:
            row = torch.nn.functional.interpolate(row, scale_factor=scale, mode="nearest")
        img = grid_image(row, nrow=row.shape[0])
        rows.append(caption_below(img, ["query", *[f"{d:.1f}" for d in nb.distances[r].tolist()]], cell=size * scale))
    out = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)))
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    return out


def report(result: SearchResult) -> dict[str, Any]:
    """Everything nn-search found, as plain JSON-able data."""
    data, split, nb = result.data, result.split, result.neighbours
    queries, memo = result.query_info, result.memorization
    out_queries = []
    for q, idx, dist in zip(queries, nb.indices.tolist(), nb.distances.tolist()):
        neighbours = []
        for i, d in zip(idx, dist):
            entry: dict[str, Any] = {"index": i, "distance": d}
            if data.labels is not None:
                entry["labels"] = [data.label_names[j] for j in np.flatnonzero(data.labels[i])]
            entry["source"] = data.items[i] if data.items else f"{data.name}[{split}][{i}]"
            neighbours.append(entry)
        out_queries.append({**q, "neighbours": neighbours})
    return {
        "dataset": data.name, "split": split, "count": int(data.images.shape[0]),
        "distance": "squared L2 in [-1, 1] pixel space", "queries": out_queries, "memorization": memo,
    }
