"""Projection: the z from which a trained G draws (nearly) a given image.

The method follows the GAN-inversion literature, measured in benchmarks/project_check.py:
- starts: an encoder's guess where one was trained for this G (Zhu et al. 2016, "In-Domain GAN
  Inversion" 2020), and the random z that come closest among a fixed set of candidates;
- optimisation of every start with Adam, with a learning-rate ramp up and a cosine ramp down
  (stylegan2-ada's projector; its z noise is an option, off as measured), on pixel distance + a
  prior term that keeps z where G was trained (|z| near its expected norm for a normal prior; a
  uniform z is kept in its box); a distance between D's block features (D saw every training
  image: its features stand in for the perceptual network there is none of here) can be added,
  and was measured no better;
- the start that ends closest wins, per image.

G and D stay in eval mode (batch norm uses its running statistics), so every image's projection is
independent of the others in its batch; a fixed seed makes a projection repeatable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.defaults import PROJECT_STARTS, PROJECT_STEPS
from ..core.model import Discriminator, Encoder, Generator, sample_z
from ..core.progress import Progress


@dataclass(frozen=True)
class ProjectSettings:
    steps: int = PROJECT_STEPS  # Adam steps per start; 0: the starts as they are (the encoder's guess alone)
    starts: int = PROJECT_STARTS  # optimised per image: the encoder's guess (if any) and the best random candidates
    candidates: int = 256  # random z scored once to pick the random starts
    lr: float = 0.05
    prior_weight: float = 0.05  # (|z|^2 / E|z|^2 - 1)^2 for a normal prior
    seed: int = 0
    batch: int = 16  # images optimised together (x starts rows): bounds memory for many images


@dataclass
class Projection:
    z: torch.Tensor  # (N, nz) the best z per image
    images: torch.Tensor  # (N, C, S, S) G(z) in [-1, 1]
    pixel_mse: torch.Tensor  # (N,) mean squared error in [-1, 1] units
    feature_distance: torch.Tensor  # (N,) the D-feature distance used in the loss
    started_from: list[str]  # per image: "encoder" or "random"
    frames: list[torch.Tensor] = field(default_factory=list)  # (N, C, S, S) snapshots over the steps, when asked


def _normalised(maps: list[torch.Tensor]) -> list[torch.Tensor]:
    # Unit length along channels at every position (as LPIPS does): compares what D responds to, not how strongly.
    return [m / (m.pow(2).sum(1, keepdim=True).sqrt() + 1e-8) for m in maps]


class FeatureDistance(nn.Module):
    """Distance between images as D's block features see them: mean over blocks of the mean squared
    difference of channel-normalised maps (0 for equal images)."""

    def __init__(self, D: Discriminator):
        super().__init__()
        self.D = D.eval()
        for p in self.D.parameters():
            p.requires_grad_(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        return _normalised(self.D.feature_maps(x))

    def forward(self, a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([(x - y).pow(2).sum(1).mean((1, 2)) for x, y in zip(a, b)]).mean(0)  # (B,)


def prior_penalty(z: torch.Tensor, G: Generator) -> torch.Tensor:
    """(B,): how far |z| is from where G's prior puts it; 0 for a uniform prior (kept by clamping)."""
    cfg = G.cfg
    if cfg.z_dist == "uniform":
        return torch.zeros(z.shape[0], device=z.device)
    return (z.pow(2).mean(1) / cfg.z_scale**2 - 1).pow(2)


def _keep_in_prior(z: torch.Tensor, G: Generator) -> None:
    if G.cfg.z_dist == "uniform":
        z.data.clamp_(-G.cfg.z_scale, G.cfg.z_scale)


def _lr_at(t: float, base: float) -> float:
    ramp_down = min(1.0, (1.0 - t) / 0.25)
    return base * (0.5 - 0.5 * math.cos(ramp_down * math.pi)) * min(1.0, t / 0.05)


def random_candidates(G: Generator, targets: torch.Tensor, count: int, keep: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The `keep` best of `count` fixed random z per target, by the projection's own loss (pixel MSE):
    z (N, keep, nz) and their losses (N, keep)."""
    device = targets.device
    z = sample_z(G.cfg, count, torch.Generator().manual_seed(seed)).to(device)
    losses = []
    with torch.no_grad():
        for i in range(0, count, 256):
            x = G(z[i : i + 256])
            losses.append(torch.cdist(targets.flatten(1), x.flatten(1)).pow(2) / targets[0].numel())  # (N, c)
    loss = torch.cat(losses, 1)  # (N, count)
    best, idx = loss.topk(min(keep, count), dim=1, largest=False)
    return z[idx], best


def find_z(G: Generator, D: Discriminator, targets: torch.Tensor, settings: ProjectSettings = ProjectSettings(), *,
            encoder: Encoder | None = None, frames: int = 0,
            on_progress: Progress | None = None, on_batch: Callable[[int, Projection], None] | None = None) -> Projection:
    """The best z per target image (N, C, S, S) in [-1, 1] on G's device. `frames` > 0 keeps that many
    snapshots of the current best reconstruction over the steps (for a progress video). `on_batch(lo,
    part)` is told each batch's projection (images lo, lo + 1, ...) as it finishes."""
    G.eval()
    for p in G.parameters():
        p.requires_grad_(False)
    dist = FeatureDistance(D)
    parts: list[Projection] = []
    per_image = max(settings.steps, 1)
    total = targets.shape[0] * per_image  # image-steps

    def report(lo: int, m: int) -> Callable[[int], None]:
        return lambda done: on_progress(lo * per_image + m * done, total) if on_progress is not None else None

    for lo in range(0, targets.shape[0], settings.batch):
        chunk = targets[lo : lo + settings.batch]
        part = _project_batch(G, dist, chunk, settings, encoder, frames, report(lo, len(chunk)))
        parts.append(part)
        if on_batch is not None:
            on_batch(lo, part)
    kept = [torch.cat([p.frames[i] for p in parts]) for i in range(len(parts[0].frames))] if frames else []
    return Projection(torch.cat([p.z for p in parts]), torch.cat([p.images for p in parts]),
                      torch.cat([p.pixel_mse for p in parts]), torch.cat([p.feature_distance for p in parts]),
                      [s for p in parts for s in p.started_from], kept)


def _starts(G: Generator, targets: torch.Tensor, s: ProjectSettings, encoder: Encoder | None) -> tuple[torch.Tensor, list[str]]:
    """(N, S, nz) the z each target's optimisation starts from, and what each start is."""
    starts: list[torch.Tensor] = []
    kinds: list[str] = []
    if encoder is not None:
        with torch.no_grad():
            starts.append(encoder.eval()(targets)[:, None])
        kinds.append("encoder")
    # With no steps and an encoder, its guess alone: the encoder's own quality, measured apart.
    random_count = 0 if (starts and s.steps == 0) else max(s.starts - len(starts), 0 if starts else 1)
    if random_count:
        z_rand, _ = random_candidates(G, targets, s.candidates, random_count, s.seed)
        starts.append(z_rand)
        kinds += ["random"] * z_rand.shape[1]
    return torch.cat(starts, 1), kinds


def _project_batch(G: Generator, dist: FeatureDistance, targets: torch.Tensor, s: ProjectSettings, encoder: Encoder | None,
                   frames: int, report: Callable[[int], None]) -> Projection:
    """Adam on pixel MSE (plus the prior term) from every start; each target keeps its best z. D is left
    out of the steps (a third of their time) and reads the final reconstructions once."""
    n, device = targets.shape[0], targets.device
    z0, kinds = _starts(G, targets, s, encoder)
    k = z0.shape[1]
    z = z0.reshape(n * k, -1).clone().requires_grad_(True)
    target_rep = targets.repeat_interleave(k, 0)
    opt = torch.optim.Adam([z], lr=s.lr, betas=(0.9, 0.999))
    snapshots: list[torch.Tensor] = []
    snap_at = {round(i * (s.steps - 1) / max(frames - 1, 1)) for i in range(frames)} if frames and s.steps else set()
    best_score = torch.full((n * k,), float("inf"), device=device)
    best_z = z.detach().clone()

    def pixel_loss(zz: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = G(zz)
        return (x - target_rep).pow(2).flatten(1).mean(1), x

    def keep_best(score: torch.Tensor, at: torch.Tensor) -> None:
        # Adam with a ramped rate can step past a minimum: a projection never ends worse than it has been.
        better = score < best_score
        best_score[better] = score[better]
        best_z[better] = at[better]

    for step in range(s.steps):
        for group in opt.param_groups:
            group["lr"] = _lr_at(step / s.steps, s.lr)
        pix, x = pixel_loss(z)
        keep_best(pix.detach(), z.detach())
        opt.zero_grad(set_to_none=True)
        (pix + s.prior_weight * prior_penalty(z, G)).sum().backward()
        opt.step()
        _keep_in_prior(z, G)
        if step in snap_at:
            snapshots.append(_best_of(x.detach(), pix.detach(), n, k))
        report(step + 1)
    with torch.no_grad():
        keep_best(pixel_loss(z)[0], z.detach())
        pix, x = pixel_loss(best_z)
        best = pix.view(n, k).argmin(1)
        rows = torch.arange(n, device=device) * k + best
        feat = dist(dist.features(x[rows]), dist.features(targets))
    if snapshots:
        snapshots[-1] = x[rows].cpu()
    return Projection(best_z[rows].cpu(), x[rows].cpu(), pix[rows].cpu(), feat.cpu(), [kinds[int(b)] for b in best], snapshots)


def _best_of(x: torch.Tensor, score: torch.Tensor, n: int, k: int) -> torch.Tensor:
    rows = torch.arange(n, device=x.device) * k + score.view(n, k).argmin(1)
    return x[rows].cpu()
