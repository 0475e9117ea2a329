"""Concept sliders (latent/steer.py): a sample's z moved toward a labelled value and away from it,
read by the data set's classifier at every position."""

import pytest

from dcgan_cli.core.checkpoint import load_checkpoint, resolve_checkpoint
from dcgan_cli.core.errors import UsageError
from dcgan_cli.latent.steer import Slider, steer


@pytest.fixture
def ckpt(concept_run):
    return load_checkpoint(resolve_checkpoint(concept_run))


@pytest.mark.parametrize("concept", ["square", "red", "large"])
def test_a_slider_moves_what_the_classifier_reads_in_the_asked_direction(ckpt, shapes_classifier, concept):
    for seed in (0, 1, 2):
        s = steer(ckpt, concept, seed=seed, bank_samples=2048, slider=Slider(frames=4))
        assert len(s.positions) == len(s.probs) == len(s.reads) == s.images.shape[0] == 9
        assert s.positions[0] == -1 and s.positions[4] == 0 and s.positions[-1] == 1
        assert s.distances[4] == 0
        assert s.probs[-1] > 0.8 and s.reads[-1].startswith(concept), (seed, s.reads)
        assert s.probs[0] < 0.2, (seed, s.reads)
        assert s.probs[-1] >= s.probs[4] >= s.probs[0]


def test_an_unknown_concept_names_the_choices(ckpt, shapes_classifier):
    with pytest.raises(UsageError, match="no concept 'hexagon'.*square"):
        steer(ckpt, "hexagon", seed=0, bank_samples=2048)



@pytest.mark.slow  # the CelebA-shaped fixture: ~30 s, as in test_arithmetic_celeba.py
def test_a_free_label_slides_yes_and_no(celeba_concept_run):
    """CelebA's labels are free yes/no ones: "Smiling" moves toward smiling and away, the others are not asked."""
    c = load_checkpoint(resolve_checkpoint(celeba_concept_run))
    for seed in (0, 1):
        s = steer(c, "Smiling", seed=seed, bank_samples=2048, slider=Slider(frames=4))
        assert s.attribute.values == ("not Smiling", "Smiling")
        assert s.probs[-1] > 0.8 and s.reads[-1].startswith("Smiling"), s.reads
        assert s.probs[0] < 0.2 and s.reads[0].startswith("not Smiling"), s.reads
    with pytest.raises(UsageError, match="no concept 'not Smiling'"):
        steer(c, "not Smiling", seed=0, bank_samples=2048)  # "less Smiling" is the slider's other side
