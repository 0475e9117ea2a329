import pytest
import torch
from torch import nn

from dcgan_cli.core.configs import SIZES
from dcgan_cli.core.model import PRESETS, Discriminator, Generator, ModelConfig, sample_z, z_from_seeds


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("size", SIZES)
def test_every_preset_makes_every_size(preset, size):
    cfg = ModelConfig(**{**PRESETS[preset], "size": size})
    G, D = Generator(cfg), Discriminator(cfg)
    x = G(sample_z(cfg, 3))
    assert x.shape == (3, cfg.nc, size, size)
    assert x.min() >= -1 and x.max() <= 1  # tanh output
    assert D(x).shape == (3,)


@pytest.mark.parametrize(
    "variant",
    [
        dict(g_act="leaky_relu", d_act="relu"),
        dict(g_act="tanh", d_act="tanh"),
        dict(batch_norm=False),
        dict(downsample="pool"),
        dict(projection="dense", kernel=5, d_dropout=0.3),
        dict(downsample="pool", kernel=5),
        dict(z_dist="uniform", z_scale=100.0),
    ],
)
def test_variants_build_and_differ_in_structure(variant):
    cfg = ModelConfig(size=32, ngf=8, ndf=8, **variant)
    G, D = Generator(cfg), Discriminator(cfg)
    assert D(G(sample_z(cfg, 2))).shape == (2,)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in [*G.modules(), *D.modules()])
    assert has_bn == cfg.batch_norm
    if cfg.downsample == "pool":
        assert any(isinstance(m, nn.AvgPool2d) for m in D.modules())
    if cfg.d_dropout:
        assert any(isinstance(m, nn.Dropout) for m in D.modules())


def test_paper_architecture_details():
    cfg = ModelConfig(size=64)
    G, D = Generator(cfg), Discriminator(cfg)
    # G: no batch norm on the output; tanh last. D: no batch norm right after the input conv.
    assert isinstance(G.main[-1], nn.Tanh) and isinstance(G.main[-2], nn.ConvTranspose2d)
    assert isinstance(D.main[0], nn.Conv2d) and isinstance(D.main[1], nn.LeakyReLU)
    assert D.main[1].negative_slope == 0.2
    assert G.project.weight.shape == (100, 512, 4, 4)  # z -> (ngf*8, 4, 4)


def test_init_statistics_follow_the_paper():
    torch.manual_seed(0)
    G = Generator(ModelConfig(size=64))
    conv = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    gamma = torch.cat([m.weight for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(conv.mean()) < 1e-3 and abs(conv.std() - 0.02) < 1e-3
    assert abs(gamma.mean() - 1) < 5e-3 and abs(gamma.std() - 0.02) < 5e-3


def test_config_round_trip_and_validation():
    cfg = ModelConfig(size=28, nc=1, g_act="tanh")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="size 48"):
        ModelConfig(size=48)
    with pytest.raises(ValueError, match="colour is not one of the model settings"):
        ModelConfig.from_dict({"colour": 1})


def test_seeded_z_is_per_seed():
    cfg = ModelConfig()
    z = z_from_seeds(cfg, [5, 6, 7])
    assert torch.equal(z[2], z_from_seeds(cfg, [7])[0])
    u = z_from_seeds(ModelConfig(z_dist="uniform", z_scale=2.0), list(range(50)))
    assert u.min() >= -2 and u.max() <= 2 and u.abs().max() > 1.5
