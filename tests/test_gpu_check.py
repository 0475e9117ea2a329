"""benchmarks/gpu_check.py's dry run: every path the GPU check takes, tiny, on the CPU, so the first
run on a lent card finds no crash that a CPU could have found."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_gpu_check_runs_every_path_it_can_on_the_cpu(tmp_path, tmp_path_factory):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, DCGAN_CACHE=str(tmp_path_factory.getbasetemp() / "cache"))
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--dry-run", "--out", str(out)],
                       capture_output=True, text=True, env=env, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, (r.stdout + r.stderr)[-3000:]
    report = json.loads(out.read_text())
    rows = report["rows"]
    assert report["dry_run"] and not [x for x in rows if "error" in x]
    ran = {(x["section"], x["what"]) for x in rows if "skipped" not in x}
    sections = {s for s, _ in ran}
    assert sections == {"speed", "sampling", "data parallel", "quality", "nn-search"}, rows
    assert any("auto" in w and x.get("img_per_s", 0) > 0 for x in rows for w in [x["what"]] if x["section"] == "speed")
    skipped = {x["what"]: x["skipped"] for x in rows if "skipped" in x}
    assert any("fp16 needs CUDA" in why for why in skipped.values())
    assert any("--sync-bn needs CUDA" in why for why in skipped.values())
    quality = [x for x in rows if x["section"] == "quality"]
    assert [x["precision"] for x in quality][0] == "fp32"
    # a few steps of training draw worse than real images do: above the real-vs-real floor, and finite
    assert all(math.isfinite(x["domain_fid"]) and x["domain_fid"] > x["domain_fid_floor"] for x in quality), quality
    assert "| section | what | figures | seconds |" in r.stdout
