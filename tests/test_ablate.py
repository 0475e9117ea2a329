"""dcgan ablate: dropping G's feature maps (paper 6.3.1) at the right layer, and only those asked."""

from __future__ import annotations

import pytest
import torch

from dcgan_cli.analyses.ablate import drop_maps
from dcgan_cli.analyses.masks import object_mask
from dcgan_cli.core.configs import PRESETS
from dcgan_cli.core.model import Discriminator, Generator, ModelConfig

from .conftest import invoke


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_hook_is_the_layer_under_the_output_for_every_size(preset):
    cfg = ModelConfig(**(PRESETS[preset] | {"ngf": 4, "ndf": 4}))
    G = Generator(cfg).eval()
    z = torch.randn(3, cfg.nz)
    maps = G.late_maps(z)
    assert maps.shape == (3, 4, cfg.size // 2, cfg.size // 2)
    with torch.no_grad():
        assert torch.equal(G.draw(maps), G(z))
        assert torch.equal(drop_maps(G, z, []), G(z))  # dropping no map changes nothing
        changed = drop_maps(G, z, [0, 2])
    assert not torch.equal(changed, G(z)) and changed.shape == G(z).shape


def test_object_mask_finds_the_object_on_a_plain_background():
    img = torch.full((2, 3, 32, 32), -0.8)
    img[0, :, 8:24, 8:24] = 0.9  # a square in the middle
    mask = object_mask(img, 16)
    assert mask[0, 4:12, 4:12].all() and not mask[0, :3].any()
    assert mask[1].all()  # no object: the whole image counts


def test_ablate_errors_are_one_line(tiny_run, runner, tmp_path):
    r = invoke(runner, "ablate", tiny_run, "--concept", "hexagon", "--device", "cpu")
    assert r.exit_code == 2 and "--concept 'hexagon' is not a label of shapes" in r.output
    r = invoke(runner, "ablate", tiny_run, "--concept", "red", "--bank", "10", "--device", "cpu")
    assert r.exit_code == 2 and "--n must be 64" not in r.output and "--bank must be 64 to 100,000" in r.output
    r = invoke(runner, "ablate", tiny_run, "--concept", "red", "--out", tmp_path, "--device", "cpu")
    assert r.exit_code == 2 and "is a folder" in r.output


def test_guided_backprop_leaves_d_as_it_was_and_gives_one_gradient_per_image():
    from dcgan_cli.analyses.explain import explain_features, guided_gradients

    cfg = ModelConfig(size=32, ngf=4, ndf=4)
    torch.manual_seed(0)
    D, R = Discriminator(cfg).eval(), Discriminator(cfg).eval()
    x = torch.rand(20, 3, 32, 32) * 2 - 1
    before = D(x)
    g = guided_gradients(D, x[:4], 1)
    assert g.shape == (4, 3, 32, 32) and g.abs().sum() > 0
    assert torch.equal(D(x), before)  # hooks gone, activations in place again
    assert all(not m._forward_hooks and not m._backward_hooks for m in D.modules())
    assert all(m.inplace for m in D.modules() if isinstance(m, torch.nn.LeakyReLU))
    e = explain_features(D, R, x, features=3, per=5)
    assert e.trained.shape == e.random.shape == e.images.shape == (15, 3, 32, 32)
    assert e.trained.abs().max() <= 1 + 1e-6 and all(0 <= v <= 1 for v in e.on_object.values())


def test_explain_command_writes_the_figure_and_refuses_bad_counts(tiny_run, runner, tmp_path):
    r = invoke(runner, "explain", tiny_run, "--n", "64", "--features", "2", "--per", "4", "--out", tmp_path / "e.png",
               "--json", tmp_path / "e.json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    from PIL import Image

    w, h = Image.open(tmp_path / "e.png").size
    assert w > 4 * 96 and h > 6 * 96  # 2 features x (images, trained D, random D), tiles of 96 px or more, labelled
    r = invoke(runner, "explain", tiny_run, "--features", "0", "--device", "cpu")
    assert r.exit_code == 2 and "--features must be 1 to" in r.output
    r = invoke(runner, "explain", tiny_run, "--n", "4", "--device", "cpu")  # the default --per 8 cannot fill a row
    assert r.exit_code == 2 and "--n 4 gives 4 image(s); give --per 4 or fewer" in r.output, r.output
