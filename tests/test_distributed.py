"""Data-parallel training: two processes on gloo (CPU) through torchrun, as a user launches them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dcgan_cli.core.checkpoint import load_checkpoint
from dcgan_cli.training.distributed import World, from_env, rank_seed, shard, train_args

from .conftest import TINY, invoke

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args: str, nproc: int = 2, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                           *args], capture_output=True, text=True, timeout=timeout, env=env)


def reports(folder: Path) -> list[dict]:
    return [json.loads((folder / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """8 steps of 2 ranks uninterrupted (crossing an epoch end at step 5)."""
    base = tmp_path_factory.mktemp("ddp")
    done = torchrun(str(WORKER), "--out", str(base / "run"), "--steps", "8", "--report", str(base / "report"))
    assert done.returncode == 0, done.stderr[-3000:]
    return base


@pytest.mark.slow
def test_ranks_hold_the_same_weights_and_rank0_alone_writes(straight):
    a, b = reports(straight / "report")
    assert a["digest"] == b["digest"] and a["code"] == b["code"] == 0
    run = straight / "run"
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step-00000005.safetensors", "step-00000008.safetensors"]  # the epoch end and the last step, once each
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines() if "loss_d" in line]
    assert steps == [2, 4, 6, 8]  # one line per log step, not one per rank
    c = load_checkpoint(run)
    assert c.meta["world_size"] == 2 and "rng/rank1/noise" in c.tensors
    assert not torch.equal(c.tensors["rng/noise"], c.tensors["rng/rank1/noise"])  # each rank draws its own z


@pytest.mark.slow
def test_a_resumed_two_rank_run_equals_an_uninterrupted_one(straight, tmp_path):
    first = torchrun(str(WORKER), "--out", str(tmp_path / "run"), "--steps", "3", "--report", str(tmp_path / "r1"))
    assert first.returncode == 0, first.stderr[-3000:]
    second = torchrun(str(WORKER), "--out", str(tmp_path / "run"), "--steps", "8", "--resume", "--report", str(tmp_path / "r2"))
    assert second.returncode == 0, second.stderr[-3000:]
    resumed, whole = load_checkpoint(tmp_path / "run"), load_checkpoint(straight / "run")
    assert resumed.step == whole.step == 8
    for key in whole.tensors:
        if key.startswith(("G/", "D/", "opt_", "rng/")):
            assert torch.equal(resumed.tensors[key], whole.tensors[key]), key
    assert reports(tmp_path / "r2")[0]["digest"] == reports(straight / "report")[0]["digest"]


@pytest.mark.slow
def test_a_non_finite_loss_on_one_rank_stops_both(tmp_path):
    done = torchrun(str(WORKER), "--out", str(tmp_path / "run"), "--steps", "8", "--report", str(tmp_path / "r"),
                    "--poison-rank", "1", "--poison-step", "3", timeout=120)
    assert done.returncode != 0
    a, b = reports(tmp_path / "r")
    assert a["code"] == b["code"] == 1  # both stopped through the error path, neither hung nor crashed
    assert "rank 0: error: training stopped at step 3: the loss became non-finite on another rank" in done.stderr
    assert "rank 1: error: training stopped at step 3: the loss became non-finite (loss_d=nan" in done.stderr
    assert not (tmp_path / "run" / "checkpoints" / "step-00000005.safetensors").exists()


@pytest.mark.slow
def test_the_cli_launches_ranks_and_a_one_process_resume_says_what_changes(tmp_path, runner):
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "dcgan_cli", "train", "--nproc", "2", "--dataset", "shapes", "--max-steps", "3",
                           "--limit", "128", "--out", str(run), *TINY], capture_output=True, text=True, timeout=180, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "in 2 processes (global batch 64 = 2 x 32)" in done.stderr
    assert done.stdout.count("done: step 3") == 1  # rank 0 alone reports
    assert load_checkpoint(run).meta["world_size"] == 2
    more = invoke(runner, "train", "--resume", run, "--max-steps", "5")
    assert more.exit_code == 0, more.output
    assert "trained by 2 process(es) and continues with 1: the global batch changes from 64 to 32" in more.output
    assert load_checkpoint(run).step == 5
    # An error rank 0 finds (the folder holds a run) stops both ranks, and is said once.
    again = subprocess.run([sys.executable, "-m", "dcgan_cli", "train", "--nproc", "2", "--dataset", "shapes", "--max-steps", "3",
                            "--limit", "128", "--out", str(run), *TINY], capture_output=True, text=True, timeout=180, env=env)
    assert again.returncode == 2 and again.stderr.count("already holds a run") == 1, again.stderr[-3000:]


def test_shards_are_disjoint_and_cover_the_global_batch():
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    for step in range(3):
        parts = [shard(order, step, 8, World(r, 4)) for r in range(4)]
        assert torch.equal(torch.cat(parts), order[step * 32 : (step + 1) * 32])
    assert torch.equal(shard(order, 2, 8, World()), order[16:24])  # one process: the plain batches


def test_world_from_torchrun_environment():
    assert from_env({}) == World()
    assert from_env({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"}) == World(2, 4, 0)
    for bad in ({"WORLD_SIZE": "x"}, {"WORLD_SIZE": "2", "RANK": "2"}):
        with pytest.raises(Exception, match="torchrun"):
            from_env(bad)
    assert rank_seed(7, 0) == 7 and len({rank_seed(7, r) for r in range(8)}) == 8
    assert train_args(["dcgan", "train", "--nproc", "2", "--max-steps", "3", "--nproc=4"]) == ["--max-steps", "3"]


@pytest.mark.slow
def test_ctrl_c_the_moment_training_starts_under_nproc_stops_every_rank_quietly(tmp_path):
    """Ctrl-C reaches every process of the terminal's group at once, maybe while a rank is still planning:
    no rank may die of it and leave the other in a collective (gloo's 'Connection closed by peer')."""
    import signal

    from .conftest import StderrLines

    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "dcgan_cli", "train", "--nproc", "2", "--dataset", "shapes", "--max-steps",
                             "300", "--limit", "128", "--out", str(run), *TINY], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, start_new_session=True)
    err = StderrLines(proc)
    err.wait_for("training shapes")
    os.killpg(proc.pid, signal.SIGINT)
    rest = err.rest(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in rest and "Connection closed" not in rest, rest[-3000:]
    assert "interrupted at step" in proc.stdout.read() + rest
    assert load_checkpoint(run).step >= 0 and "resume with: dcgan train --resume" in rest
