"""The arithmetic figure, laid out as the paper's figure 7.

Each term is a column: a few of its samples, and under them the vector the sum uses (the term's
mean; for the anchored method the anchor), with "-", "+" and "=" between the columns' bottom
tiles, a caption above each column, and the results on the right, framed green where the
attribute model sees every expected attribute and red where it does not. Every tile is drawn at
the same scale, enlarged so that a 32 px model can be read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


@dataclass
class _Layout:
    """Where everything goes: tile sizes, gaps, the fonts and the rows of the figure."""

    cell: int
    gap: int
    op_w: int
    pad: int
    font: Any
    small: Any
    line: int
    top: int  # where the tiles start, under the captions
    bottom_y: int  # the row of vectors the sum uses
    res_cols: int
    res_h: int
    thumb: int  # each anchored result's anchor, drawn under it at this size (0: none)
    block_h: int


def _layout(result: Any, anchors, min_cell: int) -> _Layout:
    size = result.result_images.shape[-1]
    cell = size * max(1, math.ceil(min_cell / size))
    gap, op_w, pad = max(4, cell // 16), max(24, cell // 2), 8
    font = ImageFont.load_default(size=max(16, cell // 6))  # footnotes and headers at the captions' size
    rows = max([len(e) for e in result.exemplar_images] + [1])
    line = font.size + 6
    top = pad + 4 * line  # caption: phrase and the context the term was taken in, each may wrap once
    n = len(result.result_images)
    res_cols = min(3, n) if n <= 9 else math.ceil(math.sqrt(n))
    thumb = cell // 2 if anchors is not None else 0
    res_h = cell + (thumb + line if anchors is not None else 0) + gap
    col_h = rows * (cell + gap) + 2 * gap + cell + line
    return _Layout(cell, gap, op_w, pad, font, ImageFont.load_default(size=max(14, cell // 7)), line, top,
                   top + rows * (cell + gap) + 2 * gap, res_cols, res_h, thumb,
                   max(col_h, math.ceil(n / res_cols) * res_h + line))


def figure(result: Any, min_cell: int = 96) -> Image.Image:
    """An ArithmeticResult drawn (result.py calls this; the figure reads its fields and decides nothing)."""
    # Anchored results each start from their own anchor: it is shown under the result, half size.
    anchored = METHODS[result.method].from_anchors
    anchors = result.anchor_images if anchored and result.anchor_images is not None else None
    L = _layout(result, anchors, min_cell)
    footer = _footer(result)
    width = L.pad + len(result.terms) * (L.cell + L.op_w) + L.res_cols * (L.cell + L.gap) + L.pad
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(width, 360, *(int(measure.textlength(t, font=L.font)) + 2 * L.pad for t in footer))
    fig = Image.new("RGB", (width, L.top + L.block_h + L.pad + len(footer) * L.line + L.pad), BACKGROUND)
    draw = ImageDraw.Draw(fig)
    x = _draw_terms(fig, draw, result, L, anchored)
    draw.text((x - L.op_w // 2, L.bottom_y + L.cell // 2), "=", fill=INK, font=L.font, anchor="mm")
    _draw_results(fig, draw, result, L, x, anchored, anchors)
    y = L.top + L.block_h + L.pad
    for text in footer:
        draw.text((L.pad, y), text, fill=INK, font=L.font)
        y += L.line
    return fig


def _draw_terms(fig: Image.Image, draw: ImageDraw.ImageDraw, result: Any, L: _Layout, anchored: bool) -> int:
    """A column per term (its samples, then the vector the sum uses); returns where the results start."""
    x, cell = L.pad, L.cell
    for i, (term, ex, mean) in enumerate(zip(result.terms, result.exemplar_images, result.term_images)):
        op, mult = _coef_text(term.coef, i == 0)
        if op:
            draw.text((x - L.op_w // 2, L.bottom_y + cell // 2), op, fill=INK, font=L.font, anchor="mm")
        _caption(draw, (x + cell // 2, L.pad), mult + term.phrase, L.font, cell + L.op_w - L.gap, fig.width)
        asked = result.plan.notes[i].get("asked") if i < len(result.plan.notes) else None
        if asked and asked != term.phrase:  # the anchored method takes a term where the anchor is
            context = "(" + ", ".join(asked.split()) + ")"
            _caption(draw, (x + cell // 2, L.pad + 2 * L.line), context, L.small, cell + L.op_w - L.gap, fig.width)
        for r, tile in enumerate(_tiles(ex, cell)):
            fig.paste(tile, (x, L.top + r * (cell + L.gap)))
        fig.paste(_tiles(mean[None], cell)[0], (x, L.bottom_y))
        draw.line([(x, L.bottom_y - L.gap), (x + cell, L.bottom_y - L.gap)], fill=INK, width=1)
        label = ("reconstruction" if result.anchor_sources else "anchor") if anchored and i == 0 else "mean"
        draw.text((x + cell // 2, L.bottom_y + cell + 3), label, fill=INK, font=L.small, anchor="mt")
        x += cell + L.op_w
    return x


def _draw_results(fig: Image.Image, draw: ImageDraw.ImageDraw, result: Any, L: _Layout, x: int, anchored: bool,
                  anchors) -> None:
    """The results at x, framed green or red by the verdict, each anchored one with its anchor under it."""
    res, cell = result.result_images, L.cell
    title = "result" if anchored or len(res) == 1 else "result, then variants"
    _caption(draw, (x + L.res_cols * (cell + L.gap) // 2, L.pad), title, L.font, L.res_cols * (cell + L.gap), fig.width)
    thumbs = _tiles(anchors, L.thumb) if anchors is not None else []
    for k, tile in enumerate(_tiles(res, cell)):
        rx, ry = x + (k % L.res_cols) * (cell + L.gap), L.top + (k // L.res_cols) * L.res_h
        fig.paste(tile, (rx, ry))
        if k < len(thumbs):
            fig.paste(thumbs[k], (rx + cell - L.thumb, ry + cell + L.gap))
            draw.text((rx + cell - L.thumb - 4, ry + cell + L.gap + L.thumb // 2), "from", fill=INK, font=L.small,
                      anchor="rm")
        ok = result.result_match[k] if k < len(result.result_match) else None
        if ok is not None:
            draw.rectangle([rx - 2, ry - 2, rx + cell + 1, ry + cell + 1], outline=GOOD if ok else BAD, width=2)


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
