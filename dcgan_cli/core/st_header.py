"""A safetensors file's header, parsed and checked without trusting the file: every entry's dtype,
shape and offsets well formed, and the file long enough for them. What the metadata means is the
checkpoint module's; this is the container's."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from .errors import DcganError
from .records import is_int

MAX_HEADER = 100 * 1024 * 1024


class CheckpointError(DcganError):
    pass


def read_header(path: Path) -> dict[str, Any]:
    """Parse and sanity-check a safetensors header without trusting the file."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path} is not a safetensors file (only {size} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n == 0 or n > MAX_HEADER:
                raise CheckpointError(f"{path} is not a safetensors file (no valid header)")
            if 8 + n > size:
                raise CheckpointError(f"{path} is truncated: its header needs {8 + n} bytes but the file has {size}")
            raw = f.read(n)
    except OSError as e:
        raise CheckpointError(f"checkpoint {path} cannot be read ({e.strerror or e})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object)")
    end = 0
    for k, v in header.items():
        if k == "__metadata__":
            if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
                raise CheckpointError(f"{path} has a malformed safetensors metadata table; the file is damaged")
            continue
        offsets = v.get("data_offsets") if isinstance(v, dict) else None
        shape = v.get("shape") if isinstance(v, dict) else None
        if (
            not isinstance(offsets, list) or len(offsets) != 2 or not all(is_int(o) and o >= 0 for o in offsets)
            or offsets[0] > offsets[1] or not isinstance(shape, list) or not all(is_int(s) and s >= 0 for s in shape)
            or not isinstance(v.get("dtype"), str)
        ):
            raise CheckpointError(
                f"{path}: tensor {k!r} has a malformed header entry (dtype, shape, offsets); the file is damaged"
            )
        end = max(end, offsets[1])
    if 8 + n + end > size:
        raise CheckpointError(
            f"{path} is truncated: its tensors need {8 + n + end} bytes but the file has {size}; use an earlier checkpoint"
        )
    return header
