"""The DCGAN generator and discriminator, built from one frozen config.

This is the only module that knows the architecture. Every variant people compare
(activations, batch norm on/off, strided conv vs average pooling, dense projection with
5x5 kernels, dropout in D, image sizes 28/32/64/128) is an argument of `ModelConfig`;
named presets are plain dicts of those arguments. Nothing here reads paths, devices or
command-line options.
"""

from __future__ import annotations

import torch
from torch import nn

from .configs import PRESETS, ModelConfig

# The config lives in the torch-free configs module (so `--help` needs no torch); this module
# is the one that turns it into layers.
__all__ = ["PRESETS", "Discriminator", "Encoder", "Generator", "ModelConfig", "init_weights", "parameter_count", "sample_z",
           "z_from_seeds"]


def _activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2, inplace=True)
    return nn.Tanh()


def _up(cin: int, cout: int, k: int) -> nn.ConvTranspose2d:
    """A fractionally-strided conv that doubles the side: 4x4 pad 1, or 5x5 pad 2 + output pad 1."""
    if k == 4:
        return nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)
    return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1, bias=False)


def _down(cin: int, cout: int, k: int, mode: str) -> list[nn.Module]:
    """Halve the side: one strided conv, or a stride-1 conv followed by 2x2 average pooling."""
    if mode == "pool":
        return [nn.Conv2d(cin, cout, k - 1 if k == 4 else k, 1, 1 if k == 4 else 2, bias=False), nn.AvgPool2d(2)]
    return [nn.Conv2d(cin, cout, k, 2, 1 if k == 4 else 2, bias=False)]


class Generator(nn.Module):
    """z (B, nz) -> image (B, nc, size, size) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n, b = cfg.n_up, cfg.base
        widths = [cfg.ngf * 2 ** (n - 1 - i) for i in range(n)]  # e.g. 64px: ngf*8, *4, *2, *1
        self.project: nn.Module
        if cfg.projection == "dense":
            self.project = nn.Linear(cfg.nz, widths[0] * b * b, bias=not cfg.batch_norm)
        else:
            # A transposed conv on a 1x1 input is the paper's "project and reshape".
            self.project = nn.ConvTranspose2d(cfg.nz, widths[0], b, 1, 0, bias=not cfg.batch_norm)
        self.project_norm = nn.BatchNorm2d(widths[0]) if cfg.batch_norm else nn.Identity()
        self.project_act = _activation(cfg.g_act)
        # (B, widths[0], b, b)
        layers: list[nn.Module] = []
        for cin, cout in zip(widths[:-1], widths[1:]):
            up = _up(cin, cout, cfg.kernel)
            if not cfg.batch_norm:
                up.bias = nn.Parameter(torch.zeros(cout))
            layers += [up, nn.BatchNorm2d(cout) if cfg.batch_norm else nn.Identity(), _activation(cfg.g_act)]
            # (B, cout, 2*side, 2*side)
        out = _up(widths[-1], cfg.nc, cfg.kernel)
        out.bias = nn.Parameter(torch.zeros(cfg.nc))  # no batch norm on the output layer
        layers += [out, nn.Tanh()]
        # (B, nc, size, size)
        self.main = nn.Sequential(*layers)
        init_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.draw(self.late_maps(z))  # (B, nc, size, size)

    def late_maps(self, z: torch.Tensor) -> torch.Tensor:
        """The feature maps G's output layer draws from, its second-highest layer (Radford et al.
        6.3.1 drop "window" maps here): (B, ngf, size / 2, size / 2)."""
        cfg = self.cfg
        if cfg.projection == "dense":
            x = self.project(z).view(z.shape[0], -1, cfg.base, cfg.base)
        else:
            x = self.project(z.view(z.shape[0], cfg.nz, 1, 1))
        x = self.project_act(self.project_norm(x))  # (B, ngf * 2^(n-1), base, base)
        return self.main[:-2](x)

    def draw(self, maps: torch.Tensor) -> torch.Tensor:
        """The output layer: late_maps -> image in [-1, 1]."""
        return self.main[-2:](maps)


class Discriminator(nn.Module):
    """image (B, nc, size, size) -> one logit per image (B,). No sigmoid: the loss takes logits."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        n, b = cfg.n_up, cfg.base
        widths = [cfg.ndf * 2**i for i in range(n)]  # e.g. 64px: ndf, *2, *4, *8
        layers: list[nn.Module] = []
        self.block_ends: list[int] = []
        cin = cfg.nc
        for i, cout in enumerate(widths):
            down = _down(cin, cout, cfg.kernel, cfg.downsample)
            # No batch norm on D's input layer (Radford et al.); a bias stands in where BN is absent.
            # Spectral norm replaces batch norm in D (Miyato et al.): both rescale the same activations.
            use_bn = cfg.batch_norm and i > 0 and not cfg.spectral_norm
            if not use_bn:
                down[0].bias = nn.Parameter(torch.zeros(cout))
            layers += down
            if use_bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(_activation(cfg.d_act))
            self.block_ends.append(len(layers))  # a block's activation map is the output of layers[:this]
            if cfg.d_dropout > 0:
                layers.append(nn.Dropout(cfg.d_dropout))
            cin = cout
            # (B, cout, size / 2^(i+1), size / 2^(i+1))
        self.main = nn.Sequential(*layers)
        # (B, ndf * 2^(n-1), base, base)
        if cfg.projection == "dense":
            self.head: nn.Module = nn.Sequential(nn.Flatten(), nn.Linear(cin * b * b, 1))
        else:
            self.head = nn.Conv2d(cin, 1, b, 1, 0)
        init_weights(self)
        if cfg.spectral_norm:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.main(x)).view(-1)  # (B,)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden feature map, flattened: (B, ndf * 2^(n-1) * base * base)."""
        return self.main(x).flatten(1)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every convolution block's activation map, input side first: (B, ndf * 2^i, size / 2^(i+1), ...).
        The representation Radford et al. probe with a linear classifier (section 5.1)."""
        maps, start = [], 0
        for end in self.block_ends:
            x = self.main[start:end](x)
            maps.append(x)
            start = end
        return maps


class Encoder(nn.Module):
    """image (B, nc, size, size) -> z (B, nz): a guess at the latent vector G would draw it from.

    D's trunk (strided convs, leaky ReLU) without batch norm, so one image's guess never depends
    on the others in its batch, ending in a linear map to z. Used to start a projection
    (Zhu et al. 2016; Zhu et al. 2020, "In-Domain GAN Inversion")."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ndf * 2**i for i in range(cfg.n_up)]
        layers: list[nn.Module] = []
        cin = cfg.nc
        for cout in widths:
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.main = nn.Sequential(*layers)
        # (B, ndf * 2^(n-1), base, base)
        self.head = nn.Linear(cin * cfg.base * cfg.base, cfg.nz)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.main(x).flatten(1)) * self.cfg.z_scale  # (B, nz)


def init_weights(module: nn.Module) -> None:
    """Radford et al.: all weights N(0, 0.02); batch norm gamma N(1, 0.02), beta 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def sample_z(cfg: ModelConfig, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw n latent vectors (n, nz) on the CPU from the config's prior."""
    if cfg.z_dist == "uniform":
        return (torch.rand(n, cfg.nz, generator=generator) * 2 - 1) * cfg.z_scale
    return torch.randn(n, cfg.nz, generator=generator) * cfg.z_scale


def typical_norm(cfg: ModelConfig) -> float:
    """E||z|| under the prior: sqrt(nz) * std for normal z, sqrt(nz / 3) * half-width for uniform."""
    return cfg.z_scale * (cfg.nz if cfg.z_dist == "normal" else cfg.nz / 3) ** 0.5


def z_from_seeds(cfg: ModelConfig, seeds: list[int]) -> torch.Tensor:
    """One latent vector per seed (len(seeds), nz): any image can be made again from its seed alone."""
    rows = [sample_z(cfg, 1, torch.Generator().manual_seed(int(s))) for s in seeds]
    return torch.cat(rows) if rows else torch.empty(0, cfg.nz)


def parameter_count(cfg: ModelConfig) -> int:
    """Parameters of G and D together, counted on the meta device: nothing is allocated."""
    with torch.device("meta"):
        return sum(p.numel() for m in (Generator(cfg), Discriminator(cfg)) for p in m.parameters())
