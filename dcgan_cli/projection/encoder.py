"""This generator's encoder, in one place: how it is trained (on G's own samples, where the true z is
known, and on the data set's real images through the reconstruction), where it is cached beside the
run, and how a projection finds it. Its layers are core/model.py's `Encoder`: the model module stays
the one place that knows an architecture.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.checkpoint import Checkpoint
from ..core.fitting import half_cosine, minimise
from ..core.model import Discriminator, Encoder, Generator, sample_z
from ..core.progress import Progress, phase
from ..core.runs import output_path
from ..core.tensor_cache import read_cached, write_cached
from .optimise import FeatureDistance

ENCODER_RECIPE = 1  # part of a cached encoder's key: change it when train_encoder changes, and cached ones retrain


@dataclass(frozen=True)
class EncoderSettings:
    steps: int = 1500
    batch: int = 64
    lr: float = 1e-3
    latent_weight: float = 1.0  # ||E(G(z)) - z||^2 / scale^2 on G's own samples
    seed: int = 0


def train_encoder(G: Generator, D: Discriminator, real: torch.Tensor | None, settings: EncoderSettings = EncoderSettings(),
                  on_progress: Progress | None = None) -> Encoder:
    """An encoder for this G: on G's own samples (where the true z is known: latent and pixel loss)
    and, given real images (uint8 (M, C, S, S)), on those through the reconstruction loss alone.
    Runs under fork_rng with its own seed: callers' random streams do not move."""
    from ..core.pixels import to_model_range

    device = next(G.parameters()).device
    G.eval()
    for p in G.parameters():
        p.requires_grad_(False)
    dist = FeatureDistance(D)
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        E = Encoder(G.cfg).to(device)
        opt = torch.optim.Adam(E.parameters(), lr=settings.lr, betas=(0.9, 0.99))
        picks = torch.Generator().manual_seed(settings.seed)

        def loss_of(step: int) -> torch.Tensor:
            z = sample_z(G.cfg, settings.batch).to(device)
            with torch.no_grad():
                fake = G(z)
            z_hat = E(fake)
            rec = G(z_hat)
            loss = (settings.latent_weight * (z_hat - z).pow(2).mean(1) / G.cfg.z_scale**2
                    + (rec - fake).pow(2).flatten(1).mean(1)).mean()
            if real is not None and len(real):
                idx = torch.randint(len(real), (settings.batch,), generator=picks).sort().values.numpy()
                x = to_model_range(real[idx]).to(device)
                rec_real = G(E(x))
                loss = loss + ((rec_real - x).pow(2).flatten(1).mean(1)
                               + dist(dist.features(rec_real), [f.detach() for f in dist.features(x)])).mean()
            return loss

        minimise(opt, range(settings.steps), settings.steps, loss_of, lr_at=half_cosine(settings.lr, settings.steps),
                 on_progress=on_progress)
    return E.eval()


def encoder_path(c: Checkpoint, which: str, fingerprint: str) -> Path:
    return output_path(c.path, c.step, "encoders", f"{'ema' if which.startswith('EMA') else 'g'}-{fingerprint[:12]}.safetensors")


def cached_encoder(c: Checkpoint, G: Generator, which: str, fingerprint: str) -> Encoder | None:
    def fits(tensors, meta):
        return meta.get("fingerprint") == fingerprint and meta.get("recipe") == ENCODER_RECIPE

    found = read_cached(encoder_path(c, which, fingerprint), fits)
    if found is None:
        return None
    E = Encoder(G.cfg)
    try:
        E.load_state_dict(found[0])
    except RuntimeError:  # shapes of another architecture: not this G's encoder
        return None
    return E.to(next(G.parameters()).device).eval()


def encoder_for(c: Checkpoint, G: Generator, which: str, fingerprint: str, *, steps: int, device,
                data_root: Path | None = None, cache_dir: Path | None = None,
                on_progress: Progress | None = None) -> tuple[Encoder, str]:
    """This G's encoder: trained now on G's samples and the data set's real images (when its
    prepared data can be found), and cached; with a note of what it was trained on."""
    from ..core.errors import DcganError
    from ..data import checkpoint_data

    try:
        real = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir).images
        on = f"G's samples and {c.dataset.name}'s real images"
    except DcganError:
        real, on = None, "G's samples only (the data set's prepared images were not found)"
    label = f"training the encoder for this generator, once ({steps} steps on {on}; then cached)"
    E = train_encoder(G, c.discriminator(device), real, EncoderSettings(steps=steps),
                      on_progress=phase(on_progress, label))
    path = encoder_path(c, which, fingerprint)
    write_cached(path, E.state_dict(), {"fingerprint": fingerprint, "recipe": ENCODER_RECIPE, "steps": steps, "trained_on": on},
                 what="encoder")
    return E, f"encoder trained on {on}, kept in {path}"
