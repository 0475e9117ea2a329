"""Install torch and torchvision into this venv the way this machine wants them, before the package.

    python scripts/install_torch.py [--dry-run] [--gpu auto|yes|no]

Where an NVIDIA GPU is seen (nvidia-smi lists one, or the driver is loaded), nothing is done here:
the package's own install brings torch from the default index, CUDA libraries and all. Where none
is seen, the CPU-only build is installed from PyTorch's CPU index (a venv of about 1 GB instead
of 5.6 GB) when that index can be reached; when it cannot (no network, a mirror only), torch is
left to the default index and this says so. Either way it says which, in one line. Set
TORCH_CPU_INDEX to use another CPU index. Uses only the standard library (it runs before anything
is installed).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements() -> list[str]:
    """torch and torchvision as pyproject.toml admits them: one place says which releases."""
    import tomllib

    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return [d for d in deps if re.match(r"[A-Za-z0-9_.-]+", d).group(0) in ("torch", "torchvision")]


def nvidia_gpu() -> bool:
    """An NVIDIA GPU on this machine: its driver is loaded, or nvidia-smi lists one."""
    gpus = Path("/proc/driver/nvidia/gpus")
    if gpus.is_dir() and any(gpus.iterdir()):
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        listed = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def reachable(index: str, timeout: float = 10.0) -> bool:
    """The index answers for torch's page (a simple index: INDEX/torch/)."""
    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=timeout) as r:
            return 200 <= r.status < 400
    except (urllib.error.URLError, OSError, ValueError):
        return False


def plan(gpu: bool, index: str, have_torch: bool) -> tuple[list[str] | None, str]:
    """(the pip arguments to run, or None; the line that says what and why)."""
    if have_torch:
        return None, "torch is already installed in this environment: kept as it is"
    if gpu:
        return None, "an NVIDIA GPU is here: torch comes with the package, from the default index (with CUDA)"
    if reachable(index):
        return (["install", "--quiet", *requirements(), "--index-url", index],
                f"no NVIDIA GPU here: installing the CPU-only torch from {index} (a venv of about 1 GB)")
    return None, (f"no NVIDIA GPU here, but the CPU-only index {index} cannot be reached: torch comes with the package "
                  "from the default index (pip's choice; with CUDA libraries the venv is about 5.6 GB)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="say what would be installed, install nothing")
    ap.add_argument("--gpu", choices=("auto", "yes", "no"), default="auto", help="whether an NVIDIA GPU is here")
    args = ap.parse_args()
    gpu = nvidia_gpu() if args.gpu == "auto" else args.gpu == "yes"
    have_torch = importlib.util.find_spec("torch") is not None and not args.dry_run
    pip_args, line = plan(gpu, os.environ.get("TORCH_CPU_INDEX", CPU_INDEX), have_torch)
    print(f"torch: {line}", flush=True)
    if pip_args is None:
        return 0
    if args.dry_run:
        print("would run: pip " + " ".join(pip_args))
        return 0
    done = subprocess.run([sys.executable, "-m", "pip", *pip_args])
    if done.returncode != 0:
        print("torch: the CPU-only install failed; torch comes with the package from the default index instead")
    return 0


if __name__ == "__main__":
    sys.exit(main())
