import numpy as np
import pytest

from dcgan_cli.data.shapes import COLOURS, GROUPS, LABEL_NAMES, make_shapes


def test_deterministic_from_seed_and_any_size():
    a, la = make_shapes(20, 32, seed=5)
    b, lb = make_shapes(20, 32, seed=5)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert not np.array_equal(a, make_shapes(20, 32, seed=6)[0])
    big, lbig = make_shapes(20, 128, seed=5)
    assert big.shape == (20, 3, 128, 128) and np.array_equal(la, lbig)  # labels do not depend on size


def test_one_value_per_group_and_the_colour_is_drawn():
    images, labels = make_shapes(200, 32, seed=0)
    for group in GROUPS:
        cols = [LABEL_NAMES.index(g) for g in group]
        assert (labels[:, cols].sum(1) == 1).all()
    for name, rgb in COLOURS.items():
        rows = labels[:, LABEL_NAMES.index(name)] == 1
        centre = images[rows][:, :, 12:20, 12:20].reshape(rows.sum(), 3, -1)
        brightest = centre[np.arange(rows.sum()), :, centre.sum(1).argmax(1)]  # the most saturated centre pixel
        assert np.abs(brightest.mean(0) - np.array(rgb)).max() < 40, name


@pytest.mark.parametrize("size_word, low, high", [("small", 0.05, 0.2), ("large", 0.2, 0.5)])
def test_size_labels_match_the_drawn_area(size_word, low, high):
    images, labels = make_shapes(100, 64, seed=1)
    rows = labels[:, LABEL_NAMES.index(size_word)] == 1
    background = np.median(images[rows], axis=(2, 3), keepdims=True)
    area = (np.abs(images[rows].astype(int) - background).max(1) > 40).mean((1, 2))
    assert low < area.mean() < high


def test_labels_alone_match_the_drawn_set():
    from dcgan_cli.data.shapes import shape_labels

    assert np.array_equal(shape_labels(50, seed=3), make_shapes(50, 32, seed=3)[1])
