import json
import os

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_cli.core.errors import UsageError
from dcgan_cli.core.pixels import flat_model_range as to_unit
from dcgan_cli.search.exact import brute_force, nearest
from dcgan_cli.search.nn_search import memorization

from .conftest import forge_checkpoint, invoke


@pytest.fixture(scope="module")
def random_set():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (103, 3, 8, 8), dtype=np.uint8)
    data[50] = data[20]  # an exact duplicate: equal distances must go to the lower index
    queries = torch.from_numpy(rng.uniform(-1, 1, (7, 3, 8, 8))).float()
    queries[0] = to_unit(data[20:21]).view(3, 8, 8).float()
    return data, queries


@pytest.mark.parametrize("integer", [True, False])
@pytest.mark.parametrize("chunk", [1, 10, 103, 1000])
@pytest.mark.parametrize("k", [1, 5, 103])
def test_matches_brute_force(random_set, chunk, k, integer):
    data, queries = random_set
    got, ref = nearest(queries, data, k, chunk_size=chunk, integer=integer), brute_force(queries, data, k)
    assert torch.equal(got.indices, ref.indices)
    assert torch.allclose(got.distances, ref.distances, rtol=0, atol=1e-9)


def test_the_integer_path_is_exact_on_near_ties():
    """Adversarial data: 400 copies of one picture, each one pixel level off somewhere, and float
    queries a fraction of a level away, so the rounding to uint8 reorders nearly every pair. With
    no extra candidates at first, the bound must send the search round again until it is exact."""
    from dcgan_cli.search import exact as nn

    rng = np.random.default_rng(3)
    base = rng.integers(2, 254, (1, 3, 8, 8)).astype(np.int16)
    data = np.repeat(base, 400, 0)
    flat = data.reshape(400, -1)
    flat[np.arange(400), rng.integers(0, 192, 400)] += rng.choice([-2, -1, 1, 2], 400)
    data = data.astype(np.uint8)
    queries = torch.from_numpy(base / 127.5 - 1 + rng.uniform(-0.006, 0.006, (9, 3, 8, 8))).float()
    for k in (1, 7, 40):
        got = nearest(queries, data, k, integer=True, norms=nn.shifted_norms(data), tuning=nn.SearchTuning(int_extra=0))
        ref = brute_force(queries, data, k)
        assert torch.equal(got.indices, ref.indices), k
    # rows longer than int32 can hold at once are multiplied in slices, summed exactly
    got = nearest(queries, data, 5, integer=True, tuning=nn.SearchTuning(int_slice=40))
    assert torch.equal(got.indices, brute_force(queries, data, 5).indices)


def test_the_image_norms_are_kept_beside_the_cache_once(tmp_path):
    from dcgan_cli.search.exact import NORMS_NAME, cached_norms, shifted_norms

    rng = np.random.default_rng(0)
    path = tmp_path / "images.u8"
    mm = np.memmap(path, dtype=np.uint8, mode="w+", shape=(50, 3, 8, 8))
    mm[:] = rng.integers(0, 256, mm.shape, dtype=np.uint8)
    mm.flush()
    images = np.memmap(path, dtype=np.uint8, mode="r", shape=(50, 3, 8, 8))
    first = cached_norms(images, tmp_path)
    kept = list(tmp_path.glob(f"{NORMS_NAME}-*.npy"))
    assert len(kept) == 1 and np.array_equal(first, shifted_norms(images))
    assert np.array_equal(first, ((images.reshape(50, -1).astype(np.int64) - 128) ** 2).sum(1))
    assert np.array_equal(cached_norms(images, tmp_path), first) and list(tmp_path.glob(f"{NORMS_NAME}-*.npy")) == kept
    # a rebuilt cache (new file time) gets new norms, and the stale ones go
    mm = np.memmap(path, dtype=np.uint8, mode="r+", shape=(50, 3, 8, 8))
    mm[0] = 0
    mm.flush()
    os.utime(path, ns=(1, 10**18))
    again = cached_norms(np.memmap(path, dtype=np.uint8, mode="r", shape=(50, 3, 8, 8)), tmp_path)
    assert again[0] == 128 * 128 * 192 and len(list(tmp_path.glob(f"{NORMS_NAME}-*.npy"))) == 1


def test_ties_break_by_lower_index_and_self_is_zero(random_set):
    data, queries = random_set
    nb = nearest(queries[:1], data, 2, chunk_size=7)
    assert nb.indices[0].tolist() == [20, 50]
    assert nb.distances[0].tolist() == [0.0, 0.0]


def test_bad_k_and_shape(random_set):
    data, queries = random_set
    with pytest.raises(UsageError, match="--k 104 is out of range"):
        nearest(queries, data, 104)
    with pytest.raises(UsageError, match="a query has 48 values"):
        nearest(torch.zeros(1, 3, 4, 4), data, 1)


def test_memorization_verdict():
    close = memorization(torch.arange(1.0, 33.0), torch.arange(10.0, 330.0, 10.0))
    assert close["ratio"] == pytest.approx(0.1, rel=0.05) and "CLOSER" in close["verdict"] and "32 unseen" in close["verdict"]
    far = memorization(torch.full((32,), 30.0), torch.full((32,), 10.0))
    assert "no sign of memorization" in far["verdict"]


def test_too_few_unseen_images_withhold_the_verdict():
    """Three held-out images made a 'may be memorizing' verdict once: now the count is said and no verdict given."""
    few = memorization(torch.full((6,), 283.9), torch.tensor([445.7, 400.0, 500.0]))
    assert few["ratio"] is None and few["count"] == 3
    assert "no memorization verdict" in few["verdict"] and "3 unseen real image(s)" in few["verdict"]
    assert "memorizing" not in few["verdict"] and "--holdout 20 or more" in few["verdict"]
    split_short = memorization(torch.full((3,), 283.9), torch.tensor([445.7, 400.0, 500.0]), asked=256)["verdict"]
    assert "the test split holds no more" in split_short and "--holdout" not in split_short


def test_samples_as_close_as_blurred_real_images_read_as_blur_not_copying():
    sharp, blurred = torch.full((32,), 445.7), torch.full((32,), 250.0)
    blurry = memorization(torch.full((32,), 283.9), sharp, blurred)
    assert "blur" in blurry["verdict"] and "memorizing" not in blurry["verdict"] and blurry["median_blurred"] == 250.0
    copies = memorization(torch.full((32,), 20.0), sharp, blurred)
    assert "may be memorizing" in copies["verdict"] and "blurred ones too" in copies["verdict"]


def test_cli_generated_queries(tiny_run, runner, tmp_path):
    r = invoke(runner, "nn-search", tiny_run, "--n", "3", "--k", "4", "--holdout", "32", "--device", "cpu",
               "--out", tmp_path / "nn.png", "--json", tmp_path / "nn.json")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "nn.json").read_text())
    assert [q["seed"] for q in rep["queries"]] == [0, 1, 2]
    for q in rep["queries"]:
        d = [nb["distance"] for nb in q["neighbours"]]
        assert len(d) == 4 and d == sorted(d)
        assert len(q["neighbours"][0]["labels"]) == 3  # shape, colour, size
    assert rep["memorization"]["count"] == 32 and "ratio" in rep["memorization"]
    assert "memoriz" in r.output
    img = Image.open(tmp_path / "nn.png")
    assert img.width >= 5 * 128 and img.height >= 3 * 128  # 32 px cells enlarged to 128, with headers and captions


def test_cli_training_image_as_query_finds_itself(tiny_run, runner, tmp_path):
    from dcgan_cli.core.checkpoint import load_checkpoint
    from dcgan_cli.data.cache import open_cache

    c = load_checkpoint(tiny_run)
    data = open_cache(c.dataset.cache)
    Image.fromarray(np.asarray(data.images[123]).transpose(1, 2, 0)).save(tmp_path / "q.png")
    r = invoke(runner, "nn-search", tiny_run, "--query", tmp_path / "q.png", "--k", "2", "--device", "cpu",
               "--out", tmp_path / "nn.png", "--json", tmp_path / "nn.json")
    assert r.exit_code == 0, r.output
    first = json.loads((tmp_path / "nn.json").read_text())["queries"][0]["neighbours"][0]
    assert first["index"] == 123 and first["distance"] == 0.0


def test_cli_errors(tiny_run, runner, tmp_path):
    r = invoke(runner, "nn-search", tiny_run, "--k", "100000", "--holdout", "0", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "out of range" in r.output
    Image.new("RGB", (8, 8)).save(tmp_path / "small.png")
    r = invoke(runner, "nn-search", tiny_run, "--query", tmp_path / "small.png", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "is 8x8, too small for the model's 32x32 (at least 16x16)" in r.output
    (tmp_path / "junk.png").write_text("not an image")
    r = invoke(runner, "nn-search", tiny_run, "--query", tmp_path / "junk.png", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 2 and "not a readable image" in r.output


def test_cli_missing_cache(tiny_run, runner, tmp_path, monkeypatch):
    """A checkpoint whose data set cache is gone and whose source cannot be found."""
    from dcgan_cli.core.checkpoint import load_checkpoint

    c = load_checkpoint(tiny_run)
    meta = {
        **c.meta,
        "dataset": {**c.meta["dataset"], "name": "mnist", "cache": str(tmp_path / "gone"), "root": str(tmp_path / "nodata")},
    }
    forge_checkpoint(tmp_path / "m.safetensors", c.tensors, meta)
    r = invoke(runner, "nn-search", tmp_path / "m.safetensors", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 1 and "is not prepared in the cache" in r.output and "dcgan data prepare --dataset mnist" in r.output
