"""scripts/install_torch.py, which `make demo` and `make test` run first: the CPU-only torch where no
NVIDIA GPU is seen and PyTorch's CPU index answers; the default index, said so, where it does not."""

import functools
import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "install_torch.py"


def run(*args, env=None):
    import os

    r = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", *args], capture_output=True, text=True, timeout=60,
                       env={**os.environ, **(env or {})})
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def cpu_index(tmp_path):
    """A simple index that has a torch page, on this machine."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<html><body></body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # bound (listening) once constructed
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_no_gpu_and_the_cpu_index_answers_installs_the_cpu_only_torch(cpu_index):
    out = run("--gpu", "no", env={"TORCH_CPU_INDEX": cpu_index})
    assert f"installing the CPU-only torch from {cpu_index}" in out
    pip = out.splitlines()[-1]
    assert pip.startswith("would run: pip install") and f"--index-url {cpu_index}" in pip
    assert "torch>=2.2,<2.15" in pip and "torchvision>=0.17,<0.30" in pip  # pyproject.toml's ranges


def test_no_gpu_and_the_index_unreachable_falls_back_to_the_default_and_says_so(tmp_path):
    with __import__("socket").socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    out = run("--gpu", "no", env={"TORCH_CPU_INDEX": closed})
    assert f"the CPU-only index {closed} cannot be reached" in out and "default index" in out
    assert "would run" not in out


def test_with_a_gpu_torch_comes_from_the_default_index(cpu_index):
    out = run("--gpu", "yes", env={"TORCH_CPU_INDEX": cpu_index})
    assert "an NVIDIA GPU is here" in out and "would run" not in out
