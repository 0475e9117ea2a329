"""Seeds as user input: every image the tool shows can be made again from its seed.

One rule for every command that draws samples: `--seeds` names them (a range 0-63, a list
3,7,9, or both mixed); `--n N` is short for seeds 0..N-1; giving both is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True)
class Label:
    """A seed named by what its sample shows: the `index`-th seed (from 0) whose sample the data set's
    classifier reads as `phrase` ("seven", "red square"); latent/labelled.py finds it."""

    phrase: str
    index: int = 0

MAX_SEED = 2**63 - 1
MAX_IMAGES = 100_000  # per command: beyond it a grid or a search is no longer something to look at


def parse_seeds(text: str, flag: str = "--seeds", limit: int = MAX_IMAGES) -> list[int]:
    """'0-63' -> [0..63]; '3,7,9' -> [3, 7, 9]; mixes like '0-3,10' work too."""
    seeds: list[int] = []
    shown = text if len(text) <= 80 else text[:77] + "..."
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"([0-9]+)(?:-([0-9]+))?", part)
        if not m:
            part = part if len(part) <= 40 else part[:37] + "..."
            raise UsageError(f"{flag} {shown!r}: {part!r} is not a seed; use a range like 0-63 or a list like 3,7,9")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi > MAX_SEED:
            raise UsageError(f"{flag} {shown!r}: seeds go up to 2^63-1 = {MAX_SEED}")
        if hi < lo:
            raise UsageError(f"{flag} {shown!r}: the range {part} runs backwards; write {hi}-{lo}")
        if len(seeds) + hi - lo + 1 > limit:
            raise UsageError(f"{flag} {shown!r} asks for {len(seeds) + hi - lo + 1:,} images; at most {limit:,} at a time")
        seeds.extend(range(lo, hi + 1))
    return seeds


MAX_RNG_SEED = 2**32 - 1  # numpy's and torch's generators both take seeds up to here


def check_seed(seed: int, flag: str = "--seed") -> int:
    """A --seed for a random generator: 0 to 2^32-1 (numpy refuses negatives, torch huge ones)."""
    if not 0 <= seed <= MAX_RNG_SEED:
        raise UsageError(f"{flag} must be 0 to {MAX_RNG_SEED:,} (2^32-1), got {seed}")
    return seed


def resolve_seeds(n: int | None, seeds: str | None, default_n: int, limit: int = MAX_IMAGES) -> list[int]:
    """The one --n / --seeds rule."""
    if n is not None and seeds is not None:
        raise UsageError("give --n or --seeds, not both (--n N means seeds 0 to N-1)")
    if seeds is not None:
        return parse_seeds(seeds, limit=limit)
    n = default_n if n is None else n
    if not 1 <= n <= limit:
        raise UsageError(f"--n must be 1 to {limit:,}, got {n}")
    return list(range(n))


def seeds_label(seeds: list[int]) -> str:
    """A short file-name-safe name for a seed list: 0-63, 3_7_9, or 0-3_10."""
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts.append((f"{seeds[i]}-{seeds[j]}" if j > i else str(seeds[i]), j - i + 1))
        i = j + 1
    label = "_".join(p for p, _ in parts)
    if len(label) <= 60:
        return label
    kept, count = [parts[0][0]], parts[0][1]  # whole parts only: a name never ends in half a seed
    for text, n in parts[1:]:
        if len("_".join(kept)) + 1 + len(text) > 40:
            break
        kept.append(text)
        count += n
    return f"{'_'.join(kept)}-and-{len(seeds) - count}-more"
