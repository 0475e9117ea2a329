"""Everything a training run writes into its folder, by rank 0 alone: the metrics log, TensorBoard,
the fixed-seed grids with their diversity check, checkpoints with their rotation, the best one."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.utils import make_grid

from ..core.checkpoint import DatasetRecord, run_checkpoints, save_checkpoint
from ..core.configs import ModelConfig, TrainConfig
from ..core.errors import DcganError
from ..core.files import write_bytes
from ..core.images import save_grid
from ..core.model import z_from_seeds
from ..core.pixels import to_model_range
from ..core.runs import RunFolder
from .distributed import World
from .snapshot import rng_state, training_snapshot
from .state import TrainingState
from .steps import epoch_order
from .watch import Watchdog, diversity

GRID_SEEDS = list(range(64))  # the fixed z of every epoch's sample grid


def better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if metric == "recall" else value < best


class RunWriter:
    """Everything written into the run folder, by rank 0 alone: metrics, TensorBoard, the
    fixed-seed grids (with their diversity check), checkpoints and their rotation, the best."""

    def __init__(self, run: RunFolder, model_cfg: ModelConfig, cfg: TrainConfig, dataset: DatasetRecord,
                 images: np.ndarray, steps_per_epoch: int, total_steps: int, world: World, device: torch.device,
                 start_step: int = 0, same_run: bool = False):
        self.run, self.model_cfg, self.cfg, self.dataset = run, model_cfg, cfg, dataset
        self.steps_per_epoch, self.total_steps, self.world, self.device = steps_per_epoch, total_steps, world, device
        self.main = world.main
        self.watchdog = Watchdog()
        self.fixed_z = z_from_seeds(model_cfg, GRID_SEEDS).to(device)
        # A fixed set of real images, for the diversity ratio of each epoch's grid.
        self.real_ref = to_model_range(images[np.sort(epoch_order(images.shape[0], 0, 0)[: len(GRID_SEEDS)].numpy())])
        self.board = None
        if self.main:
            run.checkpoints.mkdir(parents=True, exist_ok=True)
            run.samples.mkdir(exist_ok=True)
            if not run.marker.exists():
                run.write_marker({"dataset": cfg.dataset, "size": model_cfg.size, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                                  "run_id": uuid.uuid4().hex})
            _truncate_metrics(run, start_step if same_run else 0)
            if cfg.tensorboard:
                self.board = open_board(run)
                if start_step == 0:
                    self.board.add_image("real", make_grid(self.real_ref, nrow=8, normalize=True, value_range=(-1, 1)), 0)

        self.run_id = run.run_id() if self.main else None  # rank 0 alone writes checkpoints
        self.diversity: float | None = None  # of the newest grid

    def log(self, line: dict[str, Any]) -> None:
        with open(self.run.metrics, "a") as f:
            f.write(json.dumps(line) + "\n")
        if self.board is not None:
            for k, v in line.items():
                if k not in ("step", "epoch") and isinstance(v, (int, float)):
                    self.board.add_scalar(k.replace("eval_", "eval/") if k.startswith("eval_") else f"train/{k}", v, line["step"])

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def save(self, state: TrainingState, path: Path | None = None, *, every_rank: bool = True) -> Path | None:
        """Write a checkpoint (rank 0) holding every rank's random streams; called by all ranks
        unless every_rank is False (rank 0 alone, keeping only its own streams). With no path,
        RUN/checkpoints/step-N, keeping the newest --keep."""
        mine = rng_state(state.z_stream, self.device)
        states = self.world.gather(mine) if every_rank else [mine]
        if not self.main:
            return None
        tensors, state_meta = training_snapshot(
            state.G, state.D, state.opt_g, state.opt_d, states, state.G_ema, state.amp.state()
        )
        meta = {"model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(), "dataset": self.dataset.to_dict(),
                "epoch": self.epoch_of(state.step), "step": state.step, **state_meta, "world_size": self.world.size,
                "metrics": state.last, **({"best": state.best} if state.best else {}),
                **({"run_id": self.run_id} if self.run_id else {})}
        if path is not None:
            return save_checkpoint(path, tensors, meta)
        path = save_checkpoint(self.run.checkpoint_path(state.step), tensors, meta)
        for old in run_checkpoints(self.run)[: -self.cfg.keep]:
            old.unlink()
        return path

    def window(self, state: TrainingState, means: dict[str, float], images: int, seconds: float,
               waited: float) -> tuple[str | None, str | None]:
        """The log line of one window of steps (means over every rank); (warning, note) when training
        looks stuck, or stops looking stuck."""
        state.last = {"step": state.step, "epoch": self.epoch_of(state.step), **{k: round(v, 5) for k, v in means.items()},
                      "img_per_s": round(images / max(seconds, 1e-9), 1), "data_wait": round(waited / max(seconds, 1e-9), 4)}
        warning, note = self.watchdog.check_window(means, state.step)
        self.log(state.last | ({"warning": warning} if warning else {}) | ({"note": note} if note else {}))
        return warning, note

    def grid(self, state: TrainingState) -> tuple[str | None, str | None]:
        """The fixed-seed grid, and its diversity logged; (warning, note) when the samples collapse or recover."""
        state.G.eval()
        with torch.no_grad():
            grid = state.shown()(self.fixed_z)
            save_grid(grid, self.run.grid_path(state.step))
            if self.board is not None:
                self.board.add_image("samples", make_grid(grid.cpu(), nrow=8, normalize=True, value_range=(-1, 1)), state.step)
        state.G.train()
        value = diversity(grid.cpu(), self.real_ref)
        self.diversity = value
        warning, note = self.watchdog.check_diversity(value, state.step)
        self.log({"step": state.step, "epoch": self.epoch_of(state.step), "diversity": round(value, 4),
                  **({"warning": warning} if warning else {}), **({"note": note} if note else {})})
        return warning, note

    def measure(self, state: TrainingState, evaluator: Callable[[nn.Module], dict[str, float]]) -> dict[str, float]:
        """Evaluate the shown generator, log it, and keep RUN/best.safetensors when it is the best yet."""
        values = evaluator(state.shown())
        state.G.train()
        self.log(
            {"step": state.step, "epoch": self.epoch_of(state.step), **{f"eval_{k}": round(v, 6) for k, v in values.items()}}
        )
        value = values.get(self.cfg.eval_metric)
        if value is not None and better(self.cfg.eval_metric, value, state.best.get("value")):
            state.best = {"metric": self.cfg.eval_metric, "value": value, "step": state.step,
                          "features": getattr(evaluator, "features", None)}
            self.save(state, self.run.best, every_rank=False)
        return values

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


def open_board(run: RunFolder):
    """A TensorBoard writer into RUN/tensorboard/, or a one-line error naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DcganError("--tensorboard needs the tensorboard package: pip install 'dcgan-cli[tensorboard]'") from None
    return SummaryWriter(log_dir=str(run.tensorboard))


def _truncate_metrics(run: RunFolder, step: int) -> None:
    """On resume, drop log lines written after the checkpoint so the log matches the weights
    (lines that do not parse, cut short by a kill, go too)."""
    if not run.metrics.exists():
        return
    keep = [json.dumps(rec) + "\n" for rec in run.read_metrics() if rec["step"] <= step]
    write_bytes(run.metrics, "".join(keep).encode(), what="metrics log")
