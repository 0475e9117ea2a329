"""The edit methods of `dcgan arithmetic` (guided, boundary): they land, they say how far they moved,
they refuse what they cannot serve, and no image classifier takes part in an edit."""

import json

import pytest
import torch

from dcgan_cli.attributes.classifier import AttributeModel
from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.core.model import Generator
from dcgan_cli.vector_arithmetic.arithmetic import arithmetic

from .conftest import forge_checkpoint, invoke

SIZE_MOVE = "small red square - small square + large square"


@pytest.mark.parametrize("method", ["guided", "boundary"])
def test_each_edit_lands_on_a_generator_that_draws_the_concepts(concept_run, runner, tmp_path, method):
    r = invoke(runner, "arithmetic", concept_run, SIZE_MOVE, "--method", method, "--samples", "4096",
               "--json", tmp_path / "a.json", "--out", tmp_path / "a.png", "--device", "cpu")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "a.json").read_text())
    results = rep["results"]
    assert len(results) == 9 and all(res["expected"]["small/large"] == "large" for res in results)
    assert sum(res["all_match"] for res in results) >= 6, r.output  # concept_run draws size from z[7] > 0
    assert all(res["edit_size"] > 0 and res["edit_steps"] >= 1 for res in results)
    assert "edit: |dz|" in r.stdout and "of the prior's typical |z|" in r.stdout


def test_the_api_gives_what_the_cli_prints(concept_run, runner):
    arithmetic(concept_run, SIZE_MOVE, method="guided", samples=4096)  # the classifier, bank and guide exist: both reuse them
    r = invoke(runner, "arithmetic", concept_run, SIZE_MOVE, "--method", "guided", "--samples", "4096", "--device", "cpu")
    result = arithmetic(concept_run, SIZE_MOVE, method="guided", samples=4096)
    assert r.stdout.splitlines()[:-1] == result.lines()
    assert result.plan.edit_sizes().shape == (9,) and len(result.plan.edit_steps) == 9


def test_no_image_classifier_and_no_generator_take_part_in_an_edit(concept_run, monkeypatch):
    arithmetic(concept_run, SIZE_MOVE, method="guided", samples=4096)  # the bank and the guide exist now
    from dataclasses import replace

    from dcgan_cli.vector_arithmetic.table import METHODS

    inside = {"plan": False}
    plans = {name: m.plan for name, m in METHODS.items()}

    def watched(name):
        def run(inputs, seen_of):
            inside["plan"] = True
            try:
                return plans[name](inputs, seen_of)
            finally:
                inside["plan"] = False
        return run

    def refuse(original):
        def call(self, *a, **k):
            if inside["plan"]:
                raise AssertionError(f"{original.__qualname__} was called during an edit")
            return original(self, *a, **k)
        return call

    for name, m in list(METHODS.items()):
        monkeypatch.setitem(METHODS, name, replace(m, plan=watched(name)))
    monkeypatch.setattr(AttributeModel, "predict", refuse(AttributeModel.predict))
    monkeypatch.setattr(AttributeModel, "features", refuse(AttributeModel.features))
    monkeypatch.setattr(Generator, "forward", refuse(Generator.forward))
    for method in ("guided", "boundary"):
        result = arithmetic(concept_run, SIZE_MOVE, method=method, samples=4096)
        assert result.judgement is not None  # the verdict, after the edit, still reads the images


def test_what_the_edits_cannot_serve_is_one_line(concept_run, runner, tmp_path):
    r = invoke(runner, "arithmetic", concept_run, SIZE_MOVE, "--method", "warp", "--device", "cpu")
    assert r.exit_code == 2 and "'guided', 'anchored', 'boundary', 'paper', 'mean'" in r.output
    r = invoke(runner, "arithmetic", concept_run, "red circle - circle + mine", "--define", "mine=3,4", "--method", "guided",
               "--device", "cpu")
    assert r.exit_code == 2 and "a phrase defined by seeds can only be the first term" in r.output
    # a data set without labels (a folder without classes): the guide has nothing to learn from
    c = load_checkpoint(concept_run)
    meta = dict(c.meta)
    meta["dataset"] = {**meta["dataset"], "name": "folder", "label_names": []}
    bare = forge_checkpoint(tmp_path / "bare.safetensors", c.tensors, meta)
    r = invoke(runner, "arithmetic", bare, "a - b + c", "--define", "a=1", "--method", "boundary", "--device", "cpu")
    assert r.exit_code == 2 and "--method boundary moves z by what a guide on z learned from the data set's labels" in r.output
    assert len(r.output.strip().splitlines()) == 1
    # every phrase defined by seeds: the results are drawn, and the output says nothing checked them
    r = invoke(runner, "arithmetic", bare, "a - b + c", "--define", "a=1", "--define", "b=2", "--define", "c=3",
               "--method", "mean", "--device", "cpu", "--out", tmp_path / "abc.png")
    assert r.exit_code == 0, r.output
    assert "results not checked: every phrase was defined by seeds" in r.output


def test_guided_edits_start_from_your_own_image(concept_run, tmp_path):
    from PIL import Image

    from dcgan_cli import sample
    from dcgan_cli.core.pixels import to_hwc_uint8

    a = to_hwc_uint8(sample(concept_run, [21]).images())[0]
    Image.fromarray(a).save(tmp_path / "mine.png")
    result = arithmetic(concept_run, SIZE_MOVE, method="guided", samples=4096, anchors=[tmp_path / "mine.png"])
    assert len(result.result_images) == 1 and torch.isfinite(result.plan.result_z).all()


def test_the_guide_is_trained_once_then_read_from_its_cache(concept_run):
    from dcgan_cli.attributes.bank import sample_bank
    from dcgan_cli.attributes.expectations import attributes_of
    from dcgan_cli.attributes.zguide import guide_for
    from dcgan_cli.data import checkpoint_data

    c = load_checkpoint(concept_run)
    data = checkpoint_data(c, "train")
    bank = sample_bank(c, data, n=4096)
    attrs = attributes_of(bank.classifier.label_names, data.groups)
    first = guide_for(bank, attrs)
    cached = list(bank.path.parent.glob(f"{bank.path.stem}-guide-*.safetensors"))
    assert len(cached) == 1
    again = guide_for(bank, attrs)
    z = torch.randn(5, c.model_config.nz)
    with torch.no_grad():
        assert torch.equal(again(z), first(z))  # from the cache, the same guide
        assert first(z).shape == (5, len(bank.classifier.label_names))
