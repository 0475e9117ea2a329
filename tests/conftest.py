"""Shared fixtures: an isolated cache, a CliRunner, and one tiny trained run reused by many tests."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dcgan_cli.cli import app

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist10k"
TINY = ["--ngf", "8", "--ndf", "8", "--batch-size", "32", "--device", "cpu"]

# Under pytest-xdist each worker is one process on its own core: two threads each would oversubscribe the cores
# (measured: the fast lane took 2.4x longer with two workers of two threads than with two of one).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, min(2, (os.cpu_count() or 1) // _WORKERS)))

@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """Every test gets its own working folder; the decoded-data cache is shared per session."""
    cache = tmp_path_factory.getbasetemp() / "cache"
    monkeypatch.setenv("DCGAN_CACHE", str(cache))
    monkeypatch.setenv("DCGAN_DATA", str(tmp_path_factory.getbasetemp() / "no-data-here"))
    work = tmp_path_factory.mktemp("work")
    monkeypatch.chdir(work)
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))  # children share the worker's core too
    return work


# Fixtures that take seconds to build: the tests that use one share a pytest-xdist group (--dist loadgroup),
# so one worker builds it once instead of every worker building its own. A session fixture's tests form one
# group; a module fixture's, one group per module.
SHARED_FIXTURES = ("shapes_classifier", "celeba_concept_run")
MODULE_FIXTURES = ("straight", "random_set", "own", "plain")  # scope="module", in test_distributed, _nn_search, ...


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(config, items):
    for item in items:
        shared = next((name for name in SHARED_FIXTURES if name in item.fixturenames), None)
        if shared or any(name in item.fixturenames for name in MODULE_FIXTURES):
            item.add_marker(pytest.mark.xdist_group(shared or item.module.__name__))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="session")
def shapes_classifier(tmp_path_factory):
    """The built-in shapes' attribute classifier at 32 px, trained once into the session's cache here, so
    no test pays for it by running first (reading, arithmetic, ablate and domain features all use it)."""
    from dcgan_cli.attributes.classifier import dataset_classifier
    from dcgan_cli.data import load_data

    mp = pytest.MonkeyPatch()
    mp.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    try:
        return dataset_classifier(load_data("shapes", 32))
    finally:
        mp.undo()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A 32 px shapes model trained for 2 epochs of 8 steps: enough to test files and tools."""
    run = tmp_path_factory.mktemp("tiny") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    result = CliRunner().invoke(
        app, ["train", "--dataset", "shapes", "--epochs", "2", "--limit", "256", "--snap-kimg", "0.256", "--out", str(run), *TINY]
    )
    mp.undo()
    assert result.exit_code == 0, result.output
    return run


def concept_attributes(z: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the concept fixture draws for z: shape = argmax z[0:3], colour = argmax z[3:7], size = z[7] > 0."""
    return z[:, 0:3].argmax(1).numpy(), z[:, 3:7].argmax(1).numpy(), (z[:, 7] > 0).long().numpy()


@pytest.fixture(scope="session")
def concept_run(tmp_path_factory, shapes_classifier) -> Path:
    """A run whose G draws the shapes data set's concepts by construction: fitted by regression
    (seconds, not a GAN's minutes) to draw, for any z of the prior, the shape, colour and size
    that `concept_attributes` reads from z. Arithmetic and ablate then have something to find."""
    from dcgan_cli.core.checkpoint import save_checkpoint
    from dcgan_cli.core.configs import ModelConfig, TrainConfig
    from dcgan_cli.core.model import Discriminator, Generator
    from dcgan_cli.core.pixels import to_model_range
    from dcgan_cli.data import load_data
    from dcgan_cli.data.shapes import COLOURS, SHAPES, SIZES, draw_shapes

    mp = pytest.MonkeyPatch()
    mp.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    data = load_data("shapes", 32)
    mp.undo()
    combos = [(a, b, c) for a in range(len(SHAPES)) for b in range(len(COLOURS)) for c in range(len(SIZES))]
    table = {k: draw_shapes(*(np.array([i]) for i in k), 32, np.random.default_rng(0))[0] for k in combos}
    cfg = ModelConfig(size=32, nc=3, nz=100, ngf=16, ndf=8)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        G, D = Generator(cfg), Discriminator(cfg)
        opt = torch.optim.Adam(G.parameters(), lr=2e-3)
        for _ in range(600):
            z = torch.randn(64, cfg.nz)
            target = to_model_range(np.stack([table[k] for k in zip(*concept_attributes(z))]))
            loss = (G(z) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    run = tmp_path_factory.mktemp("concepts") / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    tensors = {f"G/{k}": v for k, v in G.state_dict().items()} | {f"D/{k}": v for k, v in D.state_dict().items()}
    meta = {"model": cfg.to_dict(), "train": TrainConfig(dataset="shapes").to_dict(), "dataset": data.record().to_dict(),
            "step": 600}
    save_checkpoint(run / "checkpoints" / "step-00000600.safetensors", tensors, meta)
    return run


# --- data sets in their real on-disk layouts

def write_idx(path, array, gz=False):
    dims = array.shape
    magic = struct.pack(">HBB", 0, 0x08, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    data = magic + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_mnist(root, folder="MNIST", gz=False, n_train=40, n_test=10):
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)  # the same digits whichever layout they are written in
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)), gz)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10, gz)
    return root


def one_line_error(r, code: int, *fragments: str) -> None:
    """A command that failed as the project promises: exit `code`, one `error:` line holding every fragment, no traceback."""
    assert r.exit_code == code, (r.exit_code, r.output)
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.output
    for f in fragments:
        assert f in errors[0], (f, errors[0])


def forge_checkpoint(
    path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None, *, raw_meta: str | None = None
) -> Path:
    """The one forger: a checkpoint file as a stranger might write it, with any tensors and any
    metadata (or `raw_meta`, the metadata's text itself), nothing validated on the way."""
    import json

    from safetensors.torch import save_file

    from dcgan_cli.core.checkpoint import META_KEY

    text = raw_meta if raw_meta is not None else json.dumps(meta)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={META_KEY: text})
    return Path(path)


class StderrLines:
    """A child's stderr read line by line on a thread, so a test can wait for what the child reports
    (a line), never for a guessed time."""

    def __init__(self, proc: subprocess.Popen):
        import queue
        import threading

        self.proc, self.lines, self._q = proc, [], queue.Queue()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        """The first line (from now) that holds `text`; fails the test when the child ends or time runs out."""
        import queue

        deadline = time.time() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} in {timeout} s; so far: {''.join(self.lines)[-2000:]}") from None
            if line is None:
                raise AssertionError(f"the child ended before saying {text!r}: {''.join(self.lines)[-2000:]}")
            self.lines.append(line)
            if text in line:
                return line

    def rest(self, timeout: float = 60) -> str:
        """Everything the child wrote to stderr, once it has exited."""
        self.proc.wait(timeout=timeout)
        self._t.join(timeout=timeout)
        while not self._q.empty():
            line = self._q.get()
            if line is not None:
                self.lines.append(line)
        return "".join(self.lines)


def start_training(run: Path, *args: str) -> subprocess.Popen:
    """`dcgan train --out run ARGS` in a child process, returned once it has logged a first line."""
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", "train", "--out", str(run), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists():
        ended = proc.poll()
        if ended is not None or time.time() > deadline:
            proc.kill()
            out, err = proc.communicate()
            why = f"it ended with exit code {ended}" if ended is not None else "in 120 s"
            raise AssertionError(f"the training child logged no first line ({why}): {(out + err)[-2000:]}")
        time.sleep(0.05)  # polling for the file the child writes, not a guess at how long it takes
    return proc


@pytest.fixture(scope="session")
def celeba_concept_run(tmp_path_factory) -> Path:
    """A CelebA-shaped run: the real loader reads drawn CelebA files (tests/drawn_celeba.py: 40
    independent labels, three of them drawn), and G is fitted to draw Male, Smiling and Eyeglasses
    from the signs of z[0], z[1], z[2]. Arithmetic on independent labels then has something to find."""
    from dcgan_cli.core.checkpoint import save_checkpoint
    from dcgan_cli.core.configs import ModelConfig, TrainConfig
    from dcgan_cli.data import load_data

    from .drawn_celeba import fit_generator, write_drawn_celeba

    base = tmp_path_factory.mktemp("celeba")
    root = write_drawn_celeba(base / "data")
    mp = pytest.MonkeyPatch()
    mp.setenv("DCGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    data = load_data("celeba", 32, root=root)
    mp.undo()
    cfg = ModelConfig(size=32, nc=3, nz=100, ngf=16, ndf=8)
    G, D = fit_generator(np.asarray(data.images), np.asarray(data.labels), data.label_names, cfg)
    run = base / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "run.json").write_text("{}")
    tensors = {f"G/{k}": v for k, v in G.state_dict().items()} | {f"D/{k}": v for k, v in D.state_dict().items()}
    train = TrainConfig(dataset="celeba")
    meta = {"model": cfg.to_dict(), "train": train.to_dict(), "dataset": data.record().to_dict(), "step": 600}
    save_checkpoint(run / "checkpoints" / "step-00000600.safetensors", tensors, meta)
    return run


# --- the explorer as its page sees it (tests/test_explore*.py)

TOKEN, HERE = "launch-token", "http://127.0.0.1:8765"


def page_client(explorer, **headers):
    """The test client as the page is: at the server's own address, with this launch's token."""
    from starlette.testclient import TestClient

    from dcgan_cli.explore.app import create_app

    return TestClient(create_app(explorer, token=TOKEN, host="127.0.0.1", port=8765), base_url=HERE,
                      headers={"X-Dcgan-Token": TOKEN, "Origin": HERE, **headers})


@pytest.fixture
def client(concept_run, tmp_path):
    from dcgan_cli.explore.session import Explorer

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    # the bank of test_arithmetic's calls (4,096 samples): built once for the session, whichever test runs first
    with page_client(Explorer(concept_run, uploads, device="cpu", bank_samples=4096)) as c:
        c.uploads = uploads
        c.run = concept_run
        yield c


def finish(client, kind, payload, timeout=300):
    r = client.post(f"/api/jobs/{kind}", json=payload)
    assert r.status_code == 200, r.text
    key, deadline = r.json()["job"], time.time() + timeout
    while time.time() < deadline:
        j = client.get(f"/api/job/{key}").json()
        if j["state"] in ("done", "failed"):
            return j
        time.sleep(0.02)  # a job of this fixture takes tens of milliseconds
    raise AssertionError(f"{kind} did not finish")
