"""Concept sliders: one sample's z moved toward a value the data set's labels name ("more square",
"towards seven") or away from it, with what the classifier reads in every picture on the way.

The path follows the gradient of the guide on z (the small classifier on z that arithmetic's
guided edit trains on the labelled bank, attributes/zguide.py), with the same pull toward
the prior's shell and toward the start, until the classifier reads the value in G's picture with
at least `Slider.sure` (or, away from it, at most 1 - sure) or the path is `Slider.max_steps` long. The slider's
positions are evenly spaced steps of that path, each drawn by G and read by the data set's
classifier, so what the page shows while a slider is dragged is pictures and readings already
made: the slider is as quick as the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..attributes.bank import sample_bank
from ..attributes.expectations import SURE, Attribute
from ..attributes.reading import labelled_attributes
from ..attributes.zguide import guide_for, read_around, step_up, value_log_probs
from ..core.checkpoint import Checkpoint
from ..core.defaults import BANK_SAMPLES
from ..core.errors import UsageError
from ..core.generation import check_truncation, generate, truncate
from ..core.model import typical_norm, z_from_seeds
from ..core.progress import Progress


@dataclass(frozen=True)
class Slider:
    """How a concept slider is made."""

    frames: int = 8  # positions on each side of the start
    max_steps: int = 120  # guide steps each way at most (1.2 of the prior's typical |z| when every step counts)
    sure: float = SURE  # the classifier's probability of the value at which "more" ends (1 - sure for "less")
    probe: int = 4  # steps between the pictures read to find the end


@dataclass
class Steered:
    """A sample's z moved along one concept: positions -1 (away) .. 0 (the sample) .. 1 (toward)."""

    concept: str
    attribute: Attribute
    positions: list[float]
    z: torch.Tensor  # (P, nz)
    images: torch.Tensor  # (P, C, H, W) in [-1, 1]
    probs: list[float]  # the classifier's probability of the concept in each picture
    reads: list[str]  # what the classifier reads of the concept's attribute in each picture: "square 91%"
    distances: list[float]  # |z - z_start| of each position, in units of the prior's typical |z|

    def lines(self) -> list[str]:
        first, mid, last = 0, len(self.positions) // 2, len(self.positions) - 1
        return [f"{self.concept}: the classifier reads {100 * self.probs[first]:.0f}% at -1, "
                f"{100 * self.probs[mid]:.0f}% at the sample, {100 * self.probs[last]:.0f}% at +1 "
                f"(+1 is {self.distances[last]:.2f} of a typical |z| from the sample)"]

    def to_dict(self) -> dict:
        return {"concept": self.concept, "attribute": self.attribute.name, "positions": self.positions,
                "probs": [round(p, 4) for p in self.probs], "reads": self.reads,
                "distances": [round(d, 3) for d in self.distances], "lines": self.lines()}


def concept_words(attrs: list[Attribute]) -> list[str]:
    """The values a slider can move toward: every value of a group, and each free label."""
    return [v for a in attrs for v in (a.values[1:] if a.free else a.values)]


def _find(attrs: list[Attribute], concept: str) -> tuple[int, int]:
    wanted = " ".join(concept.split()).lower()
    for a, attr in enumerate(attrs):
        for v, value in enumerate(attr.values):
            if value.lower() == wanted and not (attr.free and v == 0):
                return a, v
    raise UsageError(f"no concept {concept!r} in this data set's labels; choose one of {', '.join(concept_words(attrs))}")


def _path(guide, attr: Attribute, v: int, z0: torch.Tensor, cfg, toward: bool, steps: int) -> list[torch.Tensor]:
    """z after each of `steps` guide steps (the first is z0), toward the value or away from it."""
    z, out = z0.clone()[None].requires_grad_(True), [z0.clone()]
    noise = torch.Generator().manual_seed(0)
    for _ in range(steps):
        # read around z, as the guided edit does: a position must hold in a neighbourhood, not at a point
        p = value_log_probs(read_around(guide, z, noise, cfg)[:, 0], attr)[:, v].exp().mean()
        goal = p.clamp_min(1e-6).log() if toward else (1 - p).clamp_min(1e-6).log()
        step_up(z, z0[None], goal[None], cfg)
        out.append(z.detach()[0].clone())
    return out


def _until_read(path: list[torch.Tensor], reads_value, toward: bool, slider: Slider) -> list[torch.Tensor]:
    """The path up to where the classifier first reads the value in G's picture (at least slider.sure; away:
    at most 1 - sure), checked every slider.probe steps; all of it when it never does. The guide on z only
    chooses the direction: where the slider ends is what the pictures show."""
    probes = list(range(0, len(path), slider.probe))
    p = reads_value(torch.stack([path[i] for i in probes]))
    hit = (p >= slider.sure) if toward else (p <= 1 - slider.sure)
    end = probes[int(hit.nonzero()[0])] if hit.any() else len(path) - 1
    return path[: end + 1]


def _spaced(path: list[torch.Tensor], n: int) -> list[torch.Tensor]:
    """n points of a path, evenly spaced by step, the last its end (the start is not among them)."""
    return [path[round(k * (len(path) - 1) / n)] for k in range(1, n + 1)]


def steer(c: Checkpoint, concept: str, *, seed: int | None = None, z: torch.Tensor | None = None, trunc: float = 1.0,
          ema: bool | None = None, slider: Slider = Slider(), bank_samples: int = BANK_SAMPLES,
          device: torch.device | str = "cpu", data_root: Path | None = None,
          on_progress: Progress | None = None) -> Steered:
    """The slider's pictures for `concept` from a seed's sample (at `trunc`) or a given z (nz,)."""
    check_truncation(trunc)
    if (seed is None) == (z is None):
        raise UsageError("steer a seed's sample or a z, one of them")
    cfg = c.model_config
    data, attrs = labelled_attributes(c, "a concept slider needs labels to read", data_root=data_root)
    a, v = _find(attrs, concept)  # a concept not in the labels is said before the bank is labelled
    bank = sample_bank(c, data, n=bank_samples, device=device, ema=ema, on_progress=on_progress)
    guide = guide_for(bank, attrs, on_progress=on_progress)
    for p in guide.parameters():
        p.requires_grad_(False)
    start = truncate(z_from_seeds(cfg, [seed])[0], trunc) if z is None else z.float().view(-1)
    if start.numel() != cfg.nz:
        raise UsageError(f"a z of this model has {cfg.nz} numbers, got {start.numel()}")
    G = c.generator(device, ema=ema)

    def read(images: torch.Tensor) -> torch.Tensor:  # (B, len(values)) what the classifier reads of the attribute
        return attrs[a].value_probs(bank.classifier.predict(images.to(device)).cpu())

    frames = slider.frames

    def side(toward: bool) -> list[torch.Tensor]:  # the path one way, cut where the pictures read the end, spaced
        path = _path(guide, attrs[a], v, start, cfg, toward, slider.max_steps)
        return _spaced(_until_read(path, lambda z: read(generate(G, z.to(device)))[:, v], toward, slider), frames)

    sides = [side(False), side(True)]
    zs = torch.stack([*sides[0][::-1], start, *sides[1]])
    images = generate(G, zs.to(device))
    values = read(images)
    reads = [f"{attrs[a].values[int(row.argmax())]} {100 * float(row.max()):.0f}%" for row in values]
    typical = typical_norm(cfg)
    positions = [k / frames for k in range(-frames, frames + 1)]
    return Steered(attrs[a].values[v], attrs[a], positions, zs, images.cpu(), values[:, v].tolist(), reads,
                   ((zs - start).norm(dim=1) / typical).tolist())

