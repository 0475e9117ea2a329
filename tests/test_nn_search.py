import json

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_cli.analysis.nearest import brute_force, nearest
from dcgan_cli.analysis.nn_search import memorization
from dcgan_cli.errors import UsageError
from dcgan_cli.pixels import flat_model_range as to_unit

from .conftest import forge_checkpoint, invoke


@pytest.fixture(scope="module")
def random_set():
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (103, 3, 8, 8), dtype=np.uint8)
    data[50] = data[20]  # an exact duplicate: equal distances must go to the lower index
    queries = torch.from_numpy(rng.uniform(-1, 1, (7, 3, 8, 8))).float()
    queries[0] = to_unit(data[20:21]).view(3, 8, 8).float()
    return data, queries


@pytest.mark.parametrize("chunk", [1, 10, 103, 1000])
@pytest.mark.parametrize("k", [1, 5, 103])
def test_matches_brute_force(random_set, chunk, k):
    data, queries = random_set
    got, ref = nearest(queries, data, k, chunk_size=chunk), brute_force(queries, data, k)
    assert torch.equal(got.indices, ref.indices)
    assert torch.allclose(got.distances, ref.distances, rtol=0, atol=1e-9)


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
    close = memorization(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([10.0, 20.0, 30.0]))
    assert close["ratio"] == pytest.approx(0.1) and "CLOSER" in close["verdict"]
    far = memorization(torch.tensor([30.0]), torch.tensor([10.0]))
    assert "no sign of memorization" in far["verdict"]


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
    assert img.width == 5 * 66 + 2 and img.height >= 3 * 66  # 32 px cells enlarged to 64


def test_cli_training_image_as_query_finds_itself(tiny_run, runner, tmp_path):
    from dcgan_cli.checkpoint import load_checkpoint
    from dcgan_cli.data.cache import open_cache

    c = load_checkpoint(tiny_run)
    data = open_cache(c.dataset["cache"])
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
    from dcgan_cli.checkpoint import load_checkpoint

    c = load_checkpoint(tiny_run)
    meta = {
        **c.meta,
        "dataset": {**c.dataset, "name": "mnist", "cache": str(tmp_path / "gone"), "root": str(tmp_path / "nodata")},
    }
    forge_checkpoint(tmp_path / "m.safetensors", c.tensors, meta)
    r = invoke(runner, "nn-search", tmp_path / "m.safetensors", "--device", "cpu", "--out", tmp_path / "x.png")
    assert r.exit_code == 1 and "is not prepared in the cache" in r.output and "dcgan data prepare --dataset mnist" in r.output
