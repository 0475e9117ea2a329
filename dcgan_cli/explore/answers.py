"""What the explorer's answers hold, as the page may see them: pictures as base64 PNG, and text with its
control characters escaped and no absolute path of this machine in it."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import torch

from ..core.results import shown

PICTURE_FIELDS = {"images", "frames", "figure", "results"}  # the answers' base64 PNGs
# File names the page sends back as they are (to choose a checkpoint, to fetch a picture); the page shows
# them through its own shown(). Every other string is sent with its controls escaped.
FILE_NAME_FIELDS = {"checkpoints", "pictures", "default", "chosen"}
OTHER_PATH = re.compile(r"(?<![\w.~)])/(?:[^\s/'\"()]+/)+[^\s/'\"(),;]*")  # /a/b or /a/b/c: two parts or more


def picture(image) -> str:
    """A PIL picture (a result's figure) as base64 PNG, for an <img src="data:...">."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def png(images: torch.Tensor) -> list[str]:
    """(B, C, H, W) in [-1, 1] -> one base64 PNG per image."""
    from PIL import Image

    from ..core.pixels import to_hwc_uint8

    return [picture(Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)) for a in to_hwc_uint8(images)]


def public_answer(value: Any, prefixes: list[tuple[str, str]]) -> Any:
    """An answer as the page may show it: its strings with controls escaped, and every absolute path in
    them written as `prefixes` name it (the longest first) or cut to its last part."""
    if isinstance(value, dict):  # pictures (base64, where '/' is a letter) pass as they are
        return {k: v if k in PICTURE_FIELDS or k in FILE_NAME_FIELDS else public_answer(v, prefixes) for k, v in value.items()}
    if isinstance(value, list):
        return [public_answer(v, prefixes) for v in value]
    if not isinstance(value, str):
        return value
    value = shown(value)  # a class folder named green\u202etxt.exe must not read as greenexe.txt on the page
    if "/" not in value and "\\" not in value:
        return value
    for prefix, name in prefixes:
        value = value.replace(prefix, name)
    # any other absolute path (a checkpoint's record of the machine it was trained on): its last part only
    return OTHER_PATH.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], value)
