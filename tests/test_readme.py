"""The README's two commands exist, and the demo they run works end to end (in smoke form)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_demo_recipe_runs_in_smoke_form(tmp_path):
    """Run the Makefile's demo recipe with this interpreter and a few training steps."""
    run = tmp_path / "demo"
    result = subprocess.run(
        ["make", "-C", str(ROOT), "demo-run", f"PY={sys.executable}", f"RUN={run}",
         "TRAIN_ARGS=--max-steps 3 --limit 128 --batch-size 32 --ngf 8 --ndf 8"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert Image.open(run / "samples.png").size[0] == 8 * 132 + 4  # 64 samples at 128 px a tile, captioned
    assert Image.open(run / "interpolation.gif").n_frames == 9 + 7
    assert list((run / "checkpoints").glob("*.safetensors"))
