"""The arithmetic figure, laid out as the paper's figure 7.

Each term is a column: a few of its samples, and under them the vector the sum uses (the term's
mean; for the anchored method the anchor), with "-", "+" and "=" between the columns' bottom
tiles, a caption above each column, and the results on the right, framed green where the
attribute model sees every expected attribute and red where it does not. Every tile is drawn at
the same scale, enlarged so that a 32 px model can be read.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from PIL import Image, ImageDraw, ImageFont

from ..core.pixels import to_hwc_uint8
from .table import METHODS

BACKGROUND, INK = (255, 255, 255), (20, 20, 20)
GOOD, BAD = (40, 160, 60), (210, 40, 40)


def _tiles(images: torch.Tensor, cell: int) -> list[Image.Image]:
    out = []
    for a in to_hwc_uint8(images):
        img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).convert("RGB")
        out.append(img.resize((cell, cell), Image.Resampling.NEAREST))
    return out


def _coef_text(coef: float, first: bool) -> tuple[str, str]:
    """(operator before the column, multiplier in its caption)."""
    op = "" if first and coef > 0 else ("-" if coef < 0 else "+")
    mag = abs(coef)
    return op, "" if mag == 1 else f"{mag:g} x "


def figure(result: Any, min_cell: int = 64) -> Image.Image:
    """An ArithmeticResult drawn (result.py calls this; the figure reads its fields and decides nothing)."""
    size = result.result_images.shape[-1]
    cell = size * max(1, math.ceil(min_cell / size))
    gap, op_w, pad = max(4, cell // 16), max(24, cell // 2), 8
    font = ImageFont.load_default(size=max(11, cell // 6))
    small = ImageFont.load_default(size=max(10, cell // 7))
    rows = max([len(e) for e in result.exemplar_images] + [1])
    line = font.size + 6
    top = pad + 4 * line  # caption: phrase and the context the term was taken in, each may wrap once
    res = result.result_images
    res_cols = min(3, len(res)) if len(res) <= 9 else math.ceil(math.sqrt(len(res)))
    res_rows = math.ceil(len(res) / res_cols)
    # Anchored results each start from their own anchor: it is shown under the result, half size.
    anchored = METHODS[result.method].from_anchors
    anchors = result.anchor_images if anchored and result.anchor_images is not None else None
    thumb = cell // 2 if anchors is not None else 0
    res_h = cell + (thumb + line if anchors is not None else 0) + gap
    col_h = rows * (cell + gap) + 2 * gap + cell + line
    block_h = max(col_h, res_rows * res_h + line)
    width = pad + len(result.terms) * (cell + op_w) + res_cols * (cell + gap) + pad
    footer = _footer(result)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(width, 360, *(int(measure.textlength(t, font=font)) + 2 * pad for t in footer))
    height = top + block_h + pad + len(footer) * line + pad
    fig = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(fig)
    bottom_y = top + rows * (cell + gap) + 2 * gap  # the row of vectors the sum uses
    x = pad
    for i, (term, ex, mean) in enumerate(zip(result.terms, result.exemplar_images, result.term_images)):
        op, mult = _coef_text(term.coef, i == 0)
        if op:
            draw.text((x - op_w // 2, bottom_y + cell // 2), op, fill=INK, font=font, anchor="mm")
        _caption(draw, (x + cell // 2, pad), mult + term.phrase, font, cell + op_w - gap, fig.width)
        asked = result.plan.notes[i].get("asked") if i < len(result.plan.notes) else None
        if asked and asked != term.phrase:  # the anchored method takes a term where the anchor is
            context = "(" + ", ".join(asked.split()) + ")"
            _caption(draw, (x + cell // 2, pad + 2 * line), context, small, cell + op_w - gap, fig.width)
        for r, tile in enumerate(_tiles(ex, cell)):
            fig.paste(tile, (x, top + r * (cell + gap)))
        fig.paste(_tiles(mean[None], cell)[0], (x, bottom_y))
        draw.line([(x, bottom_y - gap), (x + cell, bottom_y - gap)], fill=INK, width=1)
        label = ("reconstruction" if result.anchor_sources else "anchor") if anchored and i == 0 else "mean"
        draw.text((x + cell // 2, bottom_y + cell + 3), label, fill=INK, font=small, anchor="mt")
        x += cell + op_w
    draw.text((x - op_w // 2, bottom_y + cell // 2), "=", fill=INK, font=font, anchor="mm")
    _caption(
        draw,
        (x + res_cols * (cell + gap) // 2, pad),
        "result" if anchored or len(res) == 1 else "result, then variants",
        font,
        res_cols * (cell + gap),
        fig.width,
    )
    thumbs = _tiles(anchors, thumb) if anchors is not None else []
    for k, tile in enumerate(_tiles(res, cell)):
        rx, ry = x + (k % res_cols) * (cell + gap), top + (k // res_cols) * res_h
        fig.paste(tile, (rx, ry))
        if k < len(thumbs):
            fig.paste(thumbs[k], (rx + cell - thumb, ry + cell + gap))
            draw.text((rx + cell - thumb - 4, ry + cell + gap + thumb // 2), "from", fill=INK, font=small, anchor="rm")
        ok = result.result_match[k] if k < len(result.result_match) else None
        if ok is not None:
            draw.rectangle([rx - 2, ry - 2, rx + cell + 1, ry + cell + 1], outline=GOOD if ok else BAD, width=2)
    y = top + block_h + pad
    for text in footer:
        draw.text((pad, y), text, fill=INK, font=font)
        y += line
    return fig


def _caption(draw: ImageDraw.ImageDraw, centre: tuple[int, int], text: str, font, width: int, fig_width: int) -> None:
    """Centred text, wrapped onto a second line when it is wider than the column, and moved in
    from the figure's edges rather than clipped by them."""
    words, lines = text.split(), [""]
    for w in words:
        trial = (lines[-1] + " " + w).strip()
        if draw.textlength(trial, font=font) > width and lines[-1]:
            lines.append(w)
        else:
            lines[-1] = trial
    for j, part in enumerate(lines[:2]):
        half = draw.textlength(part, font=font) / 2
        x = min(max(centre[0], half + 2), fig_width - half - 2)
        draw.text((x, centre[1] + j * (font.size + 4)), part, fill=INK, font=font, anchor="mt")


def _footer(result: Any) -> list[str]:
    """What the result should show, and how many results show it, attribute by attribute."""
    summary = result.judgement.summary if result.judgement is not None else {}
    if not summary:
        return [f"method: {result.method}"]
    parts = [f"{'/'.join(s.expected)} {s.match}/{s.of}" + (" (moved)" if s.moved else "") for s in summary.values()]
    n_ok = sum(1 for m in result.result_match if m)
    return [f"method: {result.method}; expected, and results showing it: " + ", ".join(parts),
            f"{n_ok}/{len(result.result_match)} results show every expected attribute (green frame)"]
