"""`fit`: the DCGAN training procedure of Radford et al., resumable to the bit.

It reads in phases: check the request and lock the run folder (fit), set up or restore the
state (state.py), wrap it for data parallelism, then the loop (_Loop.run), whose body is one
step (steps.py) and its bookkeeping through the run writer (writer.py). The loop reports
through callbacks and never prints: the CLI owns the progress bar.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.checkpoint import Checkpoint, DatasetRecord
from ..core.configs import DEFAULT_KIMG, ModelConfig, TrainConfig
from ..core.errors import DcganError, UsageError
from ..core.files import remove_stale_temps
from ..core.model import sample_z
from ..core.pixels import to_model_range
from ..core.results import Result
from ..core.runs import RunFolder
from .augment import augment as augment_batch
from .distributed import World, on_main, shard
from .precision import resolve_precision
from .snapshot import refuse_a_run_in
from .state import TrainingState, Wrapped, wrap
from .steps import ema_decay_at, ema_update, epoch_order, lr_factor, set_learning_rates, train_step
from .watch import COLLAPSE_BELOW, Window, combine_windows
from .writer import RunWriter


class NonFiniteLossError(DcganError):
    pass


@dataclass
class TrainResult(Result):
    command = "train"
    run_dir: Path
    checkpoint: Path | None
    step: int
    epoch: int
    interrupted: bool
    last_metrics: dict[str, float]
    pictures: dict[str, Path] = field(default_factory=dict)  # drawn at the end of the run (plots.py)
    seconds: float = 0.0  # this session's training time
    images_per_s: float = 0.0  # over this session
    diversity: float | None = None  # of the last fixed-seed grid: 1 is as varied as the real images
    best: dict[str, Any] = field(default_factory=dict)  # the best evaluation: metric, value, step

    def to_dict(self) -> dict[str, Any]:
        return {"run": str(self.run_dir), "checkpoint": str(self.checkpoint) if self.checkpoint else None, "step": self.step,
                "epoch": self.epoch, "interrupted": self.interrupted, "metrics": self.last_metrics,
                "seconds": round(self.seconds, 1), "images_per_s": round(self.images_per_s, 1), "diversity": self.diversity,
                "best": self.best, "pictures": {k: str(v) for k, v in self.pictures.items()}}

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else 0

    def lines(self) -> list[str]:
        if self.interrupted:
            return ([f"interrupted at step {self.step}; checkpoint {_here(self.checkpoint)}"]
                    + ([f"pictures: {', '.join(str(_here(p)) for p in self.pictures.values())}"] if self.pictures else [])
                    + [f"resume with: dcgan train --resume {_here(self.run_dir)}"])
        out = [f"done: step {self.step}, epoch {self.epoch}; checkpoint {_here(self.checkpoint)}"]
        summary = f"{self.seconds:.0f} s at {self.images_per_s:,.0f} img/s"
        if self.diversity is not None:
            alike = " (the samples are still alike: train longer)" if self.diversity < COLLAPSE_BELOW else ""
            summary += f"; diversity of the fixed-seed grid {self.diversity:.2f} (1 = as varied as the real images){alike}"
        if self.best:
            from ..evaluation import metric_name

            summary += (f"; best {metric_name(self.best['metric'], self.best.get('features'))} {self.best['value']:.4g} "
                        f"at step {self.best['step']}")
        out.append(summary)
        return out + ([f"pictures: {', '.join(str(_here(p)) for p in self.pictures.values())}"] if self.pictures else [])


def _here(path: Path | None) -> Path | None:
    """A path as the user sees it: relative to the working folder when inside it (a resumed run's folder
    comes back absolute from its checkpoint; the first run's was relative)."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return Path(path)


def fit(
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    images: np.ndarray,
    run_dir: Path,
    *,
    dataset: DatasetRecord | None = None,
    device: torch.device | str = "cpu",
    resume: Checkpoint | None = None,
    on_step: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    evaluator: Callable[[nn.Module], dict[str, float]] | None = None,
    world: World | None = None,
) -> TrainResult:
    """Train on `images` (N, C, H, W) uint8 (an array or a memory map), writing into run_dir.

    With `cfg.eval_every` and an `evaluator` (G -> metrics), quality is measured every that many
    steps, logged, and the best checkpoint by `cfg.eval_metric` kept as RUN/best.safetensors.

    The run folder is locked for the whole run: a second process aiming at it fails at once.
    With `resume`, the weights, both Adam states, the RNG states and the position in the epoch
    come from that checkpoint, so the run continues exactly as if it had never stopped.

    With a `world` of several processes (torchrun), each trains on its own slice of every global
    batch through DistributedDataParallel; rank 0 alone writes the run folder and calls `on_step`.
    """
    device = torch.device(device)
    cfg = resolve_precision(cfg, device)  # auto becomes what this device runs fastest, recorded in the checkpoints
    world = world or World()
    run = RunFolder(Path(run_dir))
    if cfg.limit is not None:
        images = images[: cfg.limit]
    steps_per_epoch, total_steps = _check_length(model_cfg, cfg, images, device, world, resume)
    same_run = resume is not None and resume.run is not None and resume.run.path.resolve() == run.path.resolve()
    with contextlib.ExitStack() as held:

        def claim() -> None:
            held.enter_context(run.lock())
            remove_stale_temps(run.path)
            if not same_run:
                refuse_a_run_in(run)

        on_main(world, claim)  # only rank 0 touches the run folder; its refusal stops every rank
        state = TrainingState.create(model_cfg, cfg, device, world, resume, same_run)
        nets = wrap(state, cfg, world, device)
        writer = RunWriter(run, model_cfg, cfg, dataset or DatasetRecord(), images, steps_per_epoch, total_steps, world, device,
                           start_step=state.step, same_run=same_run)
        held.callback(writer.close)
        loop = _Loop(state, nets, writer, Batches(images, cfg, world, device), cfg, total_steps, world, device)
        return loop.run(on_step, should_stop, evaluator if cfg.eval_every else None)


def _check_length(model_cfg: ModelConfig, cfg: TrainConfig, images: np.ndarray, device: torch.device, world: World,
                  resume: Checkpoint | None) -> tuple[int, int]:
    """(steps per epoch, total steps), refusing data that does not fit the model or a run already done."""
    n, c, h, w = images.shape
    if (c, h, w) != (model_cfg.nc, model_cfg.size, model_cfg.size):
        raise UsageError(
            f"the data set gives {c}x{h}x{w} images but the model makes {model_cfg.nc}x{model_cfg.size}x{model_cfg.size}; "
            "prepare the data at the model's --size"
        )
    if cfg.sync_bn and device.type != "cuda":
        raise UsageError("--sync-bn needs CUDA (nccl); on the CPU each process keeps its own batch-norm statistics")
    steps_per_epoch = cfg.steps_per_epoch(n, world.size)
    if steps_per_epoch == 0:
        per = f" ({world.size} processes x {cfg.batch_size})" if world.active else ""
        raise UsageError(f"the data set has {n} images, fewer than one batch of {cfg.batch_size * world.size}{per}; "
                         "lower --batch-size")
    total_steps = cfg.total_steps(steps_per_epoch, world.size)
    start = resume.step if resume is not None else 0
    if start >= total_steps:
        raise UsageError(
            f"the run already reached step {start} of {total_steps}; to train on, give a larger --max-steps or --epochs"
        )
    return steps_per_epoch, total_steps


class Batches:
    """The real batches of each epoch, read (from a memory map, in sorted order) one step ahead
    in a thread while the current one trains; `waited` counts the time training waited for data."""

    def __init__(self, images: np.ndarray, cfg: TrainConfig, world: World, device: torch.device):
        self.images, self.cfg, self.world, self.device = images, cfg, world, device
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.next = None
        self.waited = 0.0

    def _read(self, order: torch.Tensor, b: int) -> torch.Tensor:
        idx = np.sort(shard(order, b, self.cfg.batch_size, self.world).numpy())  # sorted: memmap reads stay local
        batch = torch.from_numpy(np.ascontiguousarray(self.images[idx]))
        return batch.pin_memory() if self.device.type == "cuda" else batch

    def start(self, order: torch.Tensor, b: int) -> None:
        self.next = self.pool.submit(self._read, order, b)

    def take(self, order: torch.Tensor, b: int, more: bool) -> torch.Tensor:
        """Batch b of the epoch; with `more`, batch b + 1 starts loading."""
        t0 = time.perf_counter()
        batch = self.next.result()
        self.waited += time.perf_counter() - t0
        if more:
            self.start(order, b + 1)
        return batch

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class _Loop:
    """The loop itself: one object so the body reads top to bottom with no shared closures."""

    def __init__(self, state: TrainingState, nets: Wrapped, writer: RunWriter, batches: Batches, cfg: TrainConfig,
                 total_steps: int, world: World, device: torch.device):
        self.state, self.nets, self.writer, self.batches, self.cfg = state, nets, writer, batches, cfg
        self.total_steps, self.world, self.device = total_steps, world, device
        self.spe = writer.steps_per_epoch
        self.snap = cfg.snapshot_steps(self.spe, world.size)  # an epoch, or whole epochs of at least SNAP_KIMG
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        # Several processes agree on stopping at a collective; on CUDA not every step, as each
        # agreement waits for the GPU.
        self.agree_every = 1 if device.type == "cpu" else 10
        # Instance noise anneals over the data set's default length in images, whatever the batch.
        self.noise_horizon = DEFAULT_KIMG[cfg.dataset] * 1000 / (cfg.batch_size * world.size)
        self.window = Window(device)
        self.saved: Path | None = None
        self.started, self.first_step = time.perf_counter(), state.step

    def run(self, on_step, should_stop, evaluator) -> TrainResult:
        s, w, spe = self.state, self.writer, self.spe
        window_t, window_imgs = time.perf_counter(), 0
        try:
            while s.step < self.total_steps:
                epoch, b0 = divmod(s.step, spe)
                order = epoch_order(self.batches.images.shape[0], self.cfg.seed, epoch)
                self.batches.start(order, b0)
                for b in range(b0, spe):
                    if self.stop_asked(should_stop):
                        if self.window.n:  # the steps since the last line, so the curves reach the step saved
                            means = combine_windows(self.world.gather(self.window.summary()))
                            if w.main:
                                w.window(s, means, window_imgs, time.perf_counter() - window_t, self.batches.waited)
                        if w.main and s.step > self.first_step and s.step % self.snap:
                            w.grid(s)  # the grid of the step saved, as a snapshot would have drawn it
                        return self.result(interrupted=True, saved=w.save(s))
                    batch = self.batches.take(order, b, more=b + 1 < spe and s.step + 1 < self.total_steps)
                    self.window.add(self.train_on(batch))
                    s.step += 1
                    window_imgs += self.cfg.batch_size * self.world.size
                    logged = s.step % self.cfg.log_every == 0 or s.step == self.total_steps
                    self.check_finite(logged)
                    warnings: list[str] = []
                    notes: list[str] = []
                    if logged:
                        now = time.perf_counter()
                        # Means over the window since the last line (and the losses' min and max there), over every rank.
                        means = combine_windows(self.world.gather(self.window.summary()))
                        self.window.reset()
                        if w.main:
                            said = w.window(s, means, window_imgs, now - window_t, self.batches.waited)
                            warnings += filter(None, said[:1])
                            notes += filter(None, said[1:])
                        window_t, window_imgs, self.batches.waited = now, 0, 0.0
                    evaluated = None
                    if w.main and evaluator is not None and (s.step % self.cfg.eval_every == 0 or s.step == self.total_steps):
                        evaluated = w.measure(s, evaluator)
                    if s.step % self.snap == 0 or s.step >= self.total_steps:
                        if w.main:
                            said = w.grid(s)
                            warnings += filter(None, said[:1])
                            notes += filter(None, said[1:])
                        self.saved = w.save(s)
                    if on_step is not None and w.main:
                        on_step({"step": s.step, "total_steps": self.total_steps, "epoch": s.step // spe, "metrics": s.last,
                                 "logged": logged, "eval": evaluated, "best": s.best, "warnings": warnings,
                                 "notes": notes})
                    if s.step >= self.total_steps:
                        break
        finally:
            self.batches.close()
        return self.result(interrupted=False, saved=self.saved)

    def result(self, *, interrupted: bool, saved: Path | None) -> TrainResult:
        s = self.state
        seconds = time.perf_counter() - self.started
        images = (s.step - self.first_step) * self.cfg.batch_size * self.world.size
        return TrainResult(run_dir=self.writer.run.path, checkpoint=saved, step=s.step, epoch=s.step // self.spe,
                           interrupted=interrupted, last_metrics=s.last, seconds=seconds,
                           images_per_s=images / max(seconds, 1e-9), diversity=self.writer.diversity, best=dict(s.best))

    def stop_asked(self, should_stop) -> bool:
        asked = should_stop is not None and should_stop()
        if self.world.active:
            asked = self.world.any(asked, self.device) if self.state.step % self.agree_every == 0 else False
        return asked

    def train_on(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """One training step on a uint8 batch: z (and instance noise) from the seeded CPU stream."""
        s, cfg = self.state, self.cfg
        real = to_model_range(batch.to(self.device, non_blocking=True)).contiguous(memory_format=self.memory_format)
        zs = [sample_z(s.G.cfg, cfg.batch_size, s.z_stream).to(self.device) for _ in range(cfg.g_steps)]
        inst = None
        if cfg.instance_noise > 0:
            # A function of the step alone, so a resumed or extended run matches.
            sigma = cfg.instance_noise * max(0.0, 1.0 - s.step / self.noise_horizon)
            inst = tuple((torch.randn(real.shape, generator=s.z_stream) * sigma).to(self.device) for _ in range(2))
        if cfg.lr_schedule != "constant":
            set_learning_rates(s.opt_g, s.opt_d, cfg, lr_factor(cfg.lr_schedule, s.step, self.total_steps))
        augment = (lambda x: augment_batch(x, cfg.augment, s.z_stream)) if cfg.augment else None
        r1 = cfg.r1 * cfg.r1_every if cfg.r1 > 0 and s.step % cfg.r1_every == 0 else 0.0  # lazy: k times the weight every k steps
        out = train_step(self.nets.G, self.nets.D, s.opt_g, s.opt_d, real, zs, real_target=1.0 - cfg.label_smoothing,
                         instance_noise=inst, precision=s.amp, d_params=self.nets.d_params, d_local=self.nets.d_local,
                         loss=cfg.loss, augment=augment, r1=r1)
        if s.G_ema is not None:
            ema_update(s.G_ema, s.G, ema_decay_at(cfg, s.step, cfg.batch_size * self.world.size))
        self.last_out = out
        return out

    def check_finite(self, logged: bool) -> None:
        """Stop every rank when a loss is not finite. Reading a loss waits for the GPU, so there it is
        checked on log steps and before each epoch checkpoint only; a NaN, once there, stays."""
        s = self.state
        if not (logged or self.device.type == "cpu" or s.step % self.spe == 0):
            return
        values = {k: float(v) for k, v in self.last_out.items()}
        finite = all(math.isfinite(v) for v in values.values())
        if self.world.any(not finite, self.device):
            where = (f"; the last good checkpoint is {self.saved}" if self.saved
                     else ("; no checkpoint was written" if self.writer.main else ""))
            what = (f"(loss_d={values['loss_d']}, loss_g={values['loss_g']})" if not finite
                    else f"on another rank (rank {self.world.rank} was finite)")
            raise NonFiniteLossError(
                f"training stopped at step {s.step}: the loss became non-finite {what}{where}. Try a lower --lr"
            )
