"""The DCGAN training procedure of Radford et al., resumable to the bit.

Holds the two losses, one training step, and `fit`: the loop that batches a uint8 image array,
logs metrics, writes sample grids and checkpoints into a locked run folder, and stops cleanly
when asked. The loop reports through callbacks and never prints: the CLI owns the progress bar.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.utils import make_grid

from ..checkpoint import Checkpoint, restore_training, rng_state, save_checkpoint, training_snapshot
from ..configs import DEFAULT_KIMG, ModelConfig, TrainConfig
from ..errors import DcganError, UsageError
from ..files import remove_stale_temps, write_bytes
from ..images import save_grid
from ..model import Discriminator, Generator, sample_z, z_from_seeds
from ..pixels import to_model_range
from ..results import Result
from ..runs import RunFolder
from .distributed import World, on_main, rank_seed, shard
from .precision import Precision
from .watch import Watchdog, Window, combine_windows, diversity

GRID_SEEDS = list(range(64))  # the fixed z of every epoch's sample grid


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

    def to_dict(self) -> dict[str, Any]:
        return {"run": str(self.run_dir), "checkpoint": str(self.checkpoint) if self.checkpoint else None, "step": self.step,
                "epoch": self.epoch, "interrupted": self.interrupted, "metrics": self.last_metrics,
                "pictures": {k: str(v) for k, v in self.pictures.items()}}

    def lines(self) -> list[str]:
        if self.interrupted:
            return [f"interrupted at step {self.step}; checkpoint {self.checkpoint}",
                    f"resume with: dcgan train --resume {self.run_dir}"]
        out = [f"done: step {self.step}, epoch {self.epoch}; checkpoint {self.checkpoint}"]
        return out + ([f"pictures: {', '.join(map(str, self.pictures.values()))}"] if self.pictures else [])


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), from logits for numerical stability. real_target < 1 is
    one-sided label smoothing (Salimans et al. 2016): only the real side is softened."""
    return F.binary_cross_entropy_with_logits(
        real_logits, torch.full_like(real_logits, real_target)
    ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating generator loss of Goodfellow et al."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z_batches: list[torch.Tensor],
    *,
    real_target: float = 1.0,
    noise: tuple[torch.Tensor, torch.Tensor] | None = None,
    precision: Precision | None = None,
    d_params: list[nn.Parameter] | None = None,
    d_local: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One D update, then len(z_batches) G updates. Returns detached 0-d tensors for logging.

    D sees the real and the fake batch in separate forward passes, as in the paper's code:
    mixing them in one batch would let batch norm statistics leak which half is real.
    `noise` (instance noise) is added to D's real and fake inputs in the D update.
    During the G updates D's weights need no gradient: `d_params` (D's parameters) are frozen
    there, and `d_local` (a data-parallel D's no_sync) keeps it from averaging gradients it has not got.
    """
    amp = precision or Precision("fp32", real.device)
    with amp.autocast():
        fake = G(z_batches[0])
        real_in, fake_in = (real, fake.detach()) if noise is None else (real + noise[0], fake.detach() + noise[1])
        real_logits = D(real_in)
        fake_logits = D(fake_in)
        loss_d = d_loss(real_logits.float(), fake_logits.float(), real_target)
    opt_d.zero_grad(set_to_none=True)
    amp.step("d", loss_d, opt_d)

    frozen = d_params if d_params is not None else list(D.parameters())
    for p in frozen:
        p.requires_grad_(False)
    try:
        with d_local():
            for i, z in enumerate(z_batches):
                with amp.autocast():
                    if i > 0:
                        fake = G(z)
                    loss_g = g_nonsaturating_loss(D(fake).float())
                opt_g.zero_grad(set_to_none=True)
                amp.step("g", loss_g, opt_g)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_x": torch.sigmoid(real_logits.detach().float()).mean(),
        "d_g_z": torch.sigmoid(fake_logits.detach().float()).mean(),
    }


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The image order of one epoch, a function of (seed, epoch) alone so a resume needs no state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def make_optimizers(G: nn.Module, D: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    betas = (cfg.beta1, cfg.beta2)
    d_lr = cfg.d_lr if cfg.d_lr is not None else cfg.lr
    return torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas), torch.optim.Adam(D.parameters(), lr=d_lr, betas=betas)


def fit(
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    images: np.ndarray,
    run_dir: Path,
    *,
    dataset_meta: dict[str, Any] | None = None,
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
    world = world or World()
    run = RunFolder(Path(run_dir))
    if cfg.limit is not None:
        images = images[: cfg.limit]
    n, c, h, w = images.shape
    if (c, h, w) != (model_cfg.nc, model_cfg.size, model_cfg.size):
        raise UsageError(
            f"the data set gives {c}x{h}x{w} images but the model makes {model_cfg.nc}x{model_cfg.size}x{model_cfg.size}; "
            "prepare the data at the model's --size"
        )
    if cfg.sync_bn and device.type != "cuda":
        raise UsageError("--sync-bn needs CUDA (nccl); on the CPU each process keeps its own batch-norm statistics")
    global_batch = cfg.batch_size * world.size
    steps_per_epoch = n // global_batch
    if steps_per_epoch == 0:
        per = f" ({world.size} processes x {cfg.batch_size})" if world.active else ""
        raise UsageError(f"the data set has {n} images, fewer than one batch of {global_batch}{per}; lower --batch-size")
    total_steps = cfg.total_steps(steps_per_epoch, world.size)
    start = resume.step if resume is not None else 0
    if start >= total_steps:
        raise UsageError(
            f"the run already reached step {start} of {total_steps}; to train on, give a larger --max-steps or --epochs"
        )
    same_run = resume is not None and resume.run is not None and resume.run.path.resolve() == run.path.resolve()
    with contextlib.ExitStack() as held:

        def claim() -> None:
            held.enter_context(run.lock())
            remove_stale_temps(run.path)
            if not same_run and run.has_checkpoints():
                raise UsageError(f"{run.path} already holds a run; continue it with --resume {run.path} or pick another --out")

        on_main(world, claim)  # only rank 0 touches the run folder; its refusal stops every rank
        state = TrainingState.create(model_cfg, cfg, device, world, resume, same_run)
        nets = wrap(state, cfg, world, device)
        writer = RunWriter(run, model_cfg, cfg, dataset_meta or {}, images, steps_per_epoch, total_steps, world, device,
                           start_step=state.step, same_run=same_run)
        held.callback(writer.close)
        loop = _Loop(state, nets, writer, Batches(images, cfg, world, device), cfg, total_steps, world, device)
        return loop.run(on_step, should_stop, evaluator if cfg.eval_every else None)


def ema_decay_at(cfg: TrainConfig, step: int) -> float:
    """The EMA's decay after `step` updates: warmed up, so early averages are not stuck at init."""
    return min(cfg.ema_decay, (1 + step) / (10 + step))


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, decay: float) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for weights; batch-norm statistics copied from G."""
    for pe, p in zip(G_ema.parameters(), G.parameters()):
        pe.lerp_(p, 1.0 - decay)
    for be, b in zip(G_ema.buffers(), G.buffers()):
        be.copy_(b)


def better(metric: str, value: float, best: float | None) -> bool:
    if best is None:
        return True
    return value > best if metric == "recall" else value < best


@dataclass
class TrainingState:
    """What changes as training runs, all of which a checkpoint holds: the networks, both Adam
    states, the z stream (a CPU generator, so every device draws the same z), the counters."""

    G: Generator
    D: Discriminator
    G_ema: Generator | None
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam
    z_stream: torch.Generator
    amp: Precision
    step: int = 0
    last: dict[str, float] = field(default_factory=dict)  # the last logged metrics
    best: dict[str, Any] = field(default_factory=dict)  # the best evaluation so far: metric, value, step

    @classmethod
    def create(cls, model_cfg: ModelConfig, cfg: TrainConfig, device: torch.device, world: World,
               resume: Checkpoint | None, same_run: bool) -> TrainingState:
        torch.manual_seed(cfg.seed)  # weight init draws from the global generator: the same on every rank
        G, D = Generator(model_cfg), Discriminator(model_cfg)
        G_ema = copy.deepcopy(G).requires_grad_(False) if cfg.ema else None
        opt_g, opt_d = make_optimizers(G, D, cfg)
        if world.active:
            torch.manual_seed(rank_seed(cfg.seed, world.rank))  # dropout differs between ranks
        state = cls(G, D, G_ema, opt_g, opt_d, torch.Generator().manual_seed(rank_seed(cfg.seed, world.rank)),
                    Precision(cfg.precision, device))
        if resume is not None:
            restore_training(resume, G, D, opt_g, opt_d, state.z_stream, device, G_ema, rank=world.rank)
            state.amp.load(resume.meta.get("scalers"), str(resume.path))
            state.step, state.last = resume.step, dict(resume.metrics)
            state.best = dict(resume.meta.get("best") or {}) if same_run else {}
        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        G.to(device, memory_format=memory_format).train()
        D.to(device, memory_format=memory_format).train()
        if G_ema is not None:
            G_ema.to(device, memory_format=memory_format).eval()
        # Adam's state follows its parameters when loaded before the move; move it explicitly too.
        for opt in (opt_g, opt_d):
            for st in opt.state.values():
                for k, v in st.items():
                    if torch.is_tensor(v) and k != "step":
                        st[k] = v.to(device)
        return state

    def shown(self) -> nn.Module:
        """What sample, evaluate and the grids use: the EMA generator when there is one."""
        return self.G_ema if self.G_ema is not None else self.G


@dataclass
class Wrapped:
    """What trains: G and D themselves, or wrapped for data parallelism and compiled. The plain
    modules (sharing the same weights) are what checkpoints, grids and evaluation use."""

    G: nn.Module
    D: nn.Module
    d_local: Callable[[], contextlib.AbstractContextManager]  # a data-parallel D's no_sync
    d_params: list[nn.Parameter]


def wrap(state: TrainingState, cfg: TrainConfig, world: World, device: torch.device) -> Wrapped:
    G_run, D_run, d_local = state.G, state.D, contextlib.nullcontext
    if world.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if cfg.sync_bn:
            G_run, D_run = nn.SyncBatchNorm.convert_sync_batchnorm(G_run), nn.SyncBatchNorm.convert_sync_batchnorm(D_run)
        # No buffer sync per forward: D runs twice (real, fake) before one backward, and a buffer
        # broadcast in between would modify its batch-norm statistics in place (pytorch #22095).
        # Each rank keeps its own running statistics; rank 0's are the ones saved.
        no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters
                   else {"broadcast_buffers": False})  # the older name, before torch 2.13
        ids = [device.index] if device.type == "cuda" else None
        G_run = DDP(G_run, device_ids=ids, **no_sync)
        D_run = DDP(D_run, device_ids=ids, **no_sync)
        d_local = D_run.no_sync
    if cfg.compile:
        G_run, D_run = torch.compile(G_run), torch.compile(D_run)
    return Wrapped(G_run, D_run, d_local, list(state.D.parameters()))


class RunWriter:
    """Everything written into the run folder, by rank 0 alone: metrics, TensorBoard, the
    fixed-seed grids (with their diversity check), checkpoints and their rotation, the best."""

    def __init__(self, run: RunFolder, model_cfg: ModelConfig, cfg: TrainConfig, dataset_meta: dict[str, Any],
                 images: np.ndarray, steps_per_epoch: int, total_steps: int, world: World, device: torch.device,
                 start_step: int = 0, same_run: bool = False):
        self.run, self.model_cfg, self.cfg, self.dataset_meta = run, model_cfg, cfg, dataset_meta
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
                run.write_marker({"dataset": cfg.dataset, "size": model_cfg.size, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
            _truncate_metrics(run, start_step if same_run else 0)
            if cfg.tensorboard:
                self.board = open_board(run)
                if start_step == 0:
                    self.board.add_image("real", make_grid(self.real_ref, nrow=8, normalize=True, value_range=(-1, 1)), 0)

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
        meta = {"model": self.model_cfg.to_dict(), "train": self.cfg.to_dict(), "dataset": self.dataset_meta,
                "epoch": self.epoch_of(state.step), "step": state.step, **state_meta, "world_size": self.world.size,
                "metrics": state.last, **({"best": state.best} if state.best else {})}
        if path is not None:
            return save_checkpoint(path, tensors, meta)
        path = save_checkpoint(self.run.checkpoint_path(state.step), tensors, meta)
        for old in self.run.list_checkpoints()[: -self.cfg.keep]:
            old.unlink()
        return path

    def window(self, state: TrainingState, means: dict[str, float], images: int, seconds: float, waited: float) -> str | None:
        """The log line of one window of steps (means over every rank); a warning when training looks stuck."""
        state.last = {"step": state.step, "epoch": self.epoch_of(state.step), **{k: round(v, 5) for k, v in means.items()},
                      "img_per_s": round(images / max(seconds, 1e-9), 1), "data_wait": round(waited / max(seconds, 1e-9), 4)}
        warning = self.watchdog.check_window(means, state.step)
        self.log(state.last | ({"warning": warning} if warning else {}))
        return warning

    def grid(self, state: TrainingState) -> str | None:
        """The fixed-seed grid, and its diversity logged (a warning when the samples are alike)."""
        state.G.eval()
        with torch.no_grad():
            grid = state.shown()(self.fixed_z)
            save_grid(grid, self.run.grid_path(state.step))
            if self.board is not None:
                self.board.add_image("samples", make_grid(grid.cpu(), nrow=8, normalize=True, value_range=(-1, 1)), state.step)
        state.G.train()
        value = diversity(grid.cpu(), self.real_ref)
        warning = self.watchdog.check_diversity(value, state.step, state.step / self.total_steps)
        self.log({"step": state.step, "epoch": self.epoch_of(state.step), "diversity": round(value, 4),
                  **({"warning": warning} if warning else {})})
        return warning

    def measure(self, state: TrainingState, evaluator: Callable[[nn.Module], dict[str, float]]) -> dict[str, float]:
        """Evaluate the shown generator, log it, and keep RUN/best.safetensors when it is the best yet."""
        values = evaluator(state.shown())
        state.G.train()
        self.log(
            {"step": state.step, "epoch": self.epoch_of(state.step), **{f"eval_{k}": round(v, 6) for k, v in values.items()}}
        )
        value = values.get(self.cfg.eval_metric)
        if value is not None and better(self.cfg.eval_metric, value, state.best.get("value")):
            state.best = {"metric": self.cfg.eval_metric, "value": value, "step": state.step}
            self.save(state, self.run.best, every_rank=False)
        return values

    def close(self) -> None:
        if self.board is not None:
            self.board.close()


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
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        # Several processes agree on stopping at a collective; on CUDA not every step, as each
        # agreement waits for the GPU.
        self.agree_every = 1 if device.type == "cpu" else 10
        # Instance noise anneals over the data set's default length in images, whatever the batch.
        self.noise_horizon = DEFAULT_KIMG.get(cfg.dataset, 200) * 1000 / (cfg.batch_size * world.size)
        self.window = Window(device)
        self.saved: Path | None = None

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
                        return self.result(interrupted=True, saved=w.save(s))
                    batch = self.batches.take(order, b, more=b + 1 < spe and s.step + 1 < self.total_steps)
                    self.window.add(self.train_on(batch))
                    s.step += 1
                    window_imgs += self.cfg.batch_size * self.world.size
                    logged = s.step % self.cfg.log_every == 0 or s.step == self.total_steps
                    self.check_finite(logged)
                    warnings: list[str] = []
                    if logged:
                        now = time.perf_counter()
                        # Means over the window since the last line (and the losses' min and max there), over every rank.
                        means = combine_windows(self.world.gather(self.window.summary()))
                        self.window.reset()
                        if w.main:
                            warnings += filter(None, [w.window(s, means, window_imgs, now - window_t, self.batches.waited)])
                        window_t, window_imgs, self.batches.waited = now, 0, 0.0
                    evaluated = None
                    if w.main and evaluator is not None and (s.step % self.cfg.eval_every == 0 or s.step == self.total_steps):
                        evaluated = w.measure(s, evaluator)
                    if s.step % spe == 0 or s.step >= self.total_steps:
                        if w.main:
                            warnings += filter(None, [w.grid(s)])
                        self.saved = w.save(s)
                    if on_step is not None and w.main:
                        on_step({"step": s.step, "total_steps": self.total_steps, "epoch": s.step // spe, "metrics": s.last,
                                 "logged": logged, "eval": evaluated, "best": s.best, "warnings": warnings})
                    if s.step >= self.total_steps:
                        break
        finally:
            self.batches.close()
        return self.result(interrupted=False, saved=self.saved)

    def result(self, *, interrupted: bool, saved: Path | None) -> TrainResult:
        s = self.state
        return TrainResult(self.writer.run.path, saved, s.step, s.step // self.spe, interrupted, s.last)

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
        out = train_step(self.nets.G, self.nets.D, s.opt_g, s.opt_d, real, zs, real_target=1.0 - cfg.label_smoothing,
                         noise=inst, precision=s.amp, d_params=self.nets.d_params, d_local=self.nets.d_local)
        if s.G_ema is not None:
            ema_update(s.G_ema, s.G, ema_decay_at(cfg, s.step))
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
