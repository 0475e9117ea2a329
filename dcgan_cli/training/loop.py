"""The DCGAN training procedure of Radford et al., resumable to the bit, read from the top: `train_step` (the D
update and the G update), then `fit` (check the request, lock the run folder, set up or restore the state in
state.py, wrap it for data parallelism) and the loop (`_Loop.run`), whose body is a step and its bookkeeping,
each by name: the log line, the measurement, the snapshot (written through writer.py). The loop reports
through callbacks and never prints: the CLI owns the progress bar.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.checkpoint import Checkpoint, DatasetRecord
from ..core.configs import DEFAULT_KIMG, ModelConfig, TrainConfig
from ..core.errors import UsageError
from ..core.files import remove_stale_temps
from ..core.model import sample_z
from ..core.pixels import to_model_range
from ..core.runs import RunFolder
from .augment import augment as augment_batch
from .batches import Batches
from .distributed import World, on_main
from .precision import Precision, resolve_precision
from .result import NonFiniteLossError, TrainResult
from .snapshot import refuse_a_run_in
from .state import TrainingState, Wrapped, wrap
from .steps import OBJECTIVES, ema_decay_at, ema_update, epoch_order, lr_factor, r1_penalty, set_learning_rates
from .watch import Window, combine_windows
from .writer import RunWriter


def train_step(G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, real: torch.Tensor,
               z_batches: list[torch.Tensor], *, real_target: float = 1.0,
               instance_noise: tuple[torch.Tensor, torch.Tensor] | None = None, precision: Precision | None = None,
               d_params: list[nn.Parameter] | None = None,
               d_local: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext, loss: str = "nonsaturating",
               augment: Callable[[torch.Tensor], torch.Tensor] | None = None, r1: float = 0.0) -> dict[str, torch.Tensor]:
    """One D update, then len(z_batches) G updates, on `real` (B, C, S, S) in [-1, 1] and each z (B, nz). Returns
    detached 0-d tensors for logging. `loss` names the objective (steps.OBJECTIVES); `instance_noise` (real, fake)
    is added to D's inputs; `augment` is applied to every batch D sees; `r1` > 0 adds r1 / 2 times the R1 penalty.
    `d_params` are D's parameters, frozen for the G updates; `d_local` (a data-parallel D's no_sync) keeps D from
    averaging gradients it has not got."""
    amp = precision or Precision("fp32", real.device)
    d_objective, g_objective = OBJECTIVES[loss]
    seen = augment or (lambda x: x)

    # D: real up, fake down. Real and fake go through D in separate passes, as in the paper's code: one mixed
    # batch would let batch norm's statistics tell which half is real.
    with amp.autocast():
        fake = G(z_batches[0])  # (B, C, S, S) in [-1, 1]
        real_in, fake_in = (real, fake.detach()) if instance_noise is None else (
            real + instance_noise[0], fake.detach() + instance_noise[1])
        real_in, fake_in = seen(real_in), seen(fake_in)
        if r1 > 0:
            real_in = real_in.detach().requires_grad_(True)
        real_logits, fake_logits = D(real_in), D(fake_in)  # (B,) each
        loss_d = d_objective(real_logits.float(), fake_logits.float(), real_target)
        if r1 > 0:
            loss_d = loss_d + (r1 / 2) * r1_penalty(real_in, real_logits)
    opt_d.zero_grad(set_to_none=True)
    amp.step("d", loss_d, opt_d)

    # G: through D with D's weights frozen; the first update on the D step's fake batch, any others on new ones.
    frozen = d_params if d_params is not None else list(D.parameters())
    for p in frozen:
        p.requires_grad_(False)
    try:
        with d_local():
            for i, z in enumerate(z_batches):
                with amp.autocast():
                    fake = fake if i == 0 else G(z)  # (B, C, S, S)
                    loss_g = g_objective(D(seen(fake)).float())
                opt_g.zero_grad(set_to_none=True)
                amp.step("g", loss_g, opt_g)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
            "d_x": torch.sigmoid(real_logits.detach().float()).mean(),  # D's mean belief that real is real
            "d_g_z": torch.sigmoid(fake_logits.detach().float()).mean()}  # ... and that fake is real


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
        self.window_t, self.window_imgs = self.started, 0

    def run(self, on_step, should_stop, evaluator) -> TrainResult:
        s = self.state
        try:
            while s.step < self.total_steps:
                epoch, b0 = divmod(s.step, self.spe)
                order = epoch_order(self.batches.images.shape[0], self.cfg.seed, epoch)
                self.batches.start(order, b0)
                for b in range(b0, self.spe):
                    if self.stop_asked(should_stop):
                        return self.stopped()
                    batch = self.batches.take(order, b, more=b + 1 < self.spe and s.step + 1 < self.total_steps)
                    self.window.add(self.train_on(batch))  # the GAN step: D, then G (train_step, below)
                    s.step += 1
                    self.window_imgs += self.cfg.batch_size * self.world.size
                    report = self.bookkeeping(evaluator)  # what this step is due: a log line, a measurement, a snapshot
                    if on_step is not None and self.writer.main:
                        on_step(report)
                    if s.step >= self.total_steps:
                        break
        finally:
            self.batches.close()
        return self.result(interrupted=False, saved=self.saved)

    def bookkeeping(self, evaluator) -> dict[str, Any]:
        """After a step: the loss checked, then the log line, the measurement and the snapshot it is due; what
        they said, for on_step."""
        s = self.state
        logged = s.step % self.cfg.log_every == 0 or s.step == self.total_steps
        self.check_finite(logged)
        said = [self.log_line() if logged else (None, None)]  # each (a warning, a note), either may be None
        evaluated = self.measure(evaluator)
        said.append(self.snapshot())
        return {"step": s.step, "total_steps": self.total_steps, "epoch": s.step // self.spe, "metrics": s.last,
                "logged": logged, "eval": evaluated, "best": s.best, "warnings": [w for w, _ in said if w],
                "notes": [n for _, n in said if n]}

    def log_line(self) -> tuple[str | None, str | None]:
        """Means over the window since the last line (and the losses' min and max there), over every rank, logged."""
        now = time.perf_counter()
        means = combine_windows(self.world.gather(self.window.summary()))
        self.window.reset()
        said = (self.writer.window(self.state, means, self.window_imgs, now - self.window_t, self.batches.waited)
                if self.writer.main else (None, None))
        self.window_t, self.window_imgs, self.batches.waited = now, 0, 0.0
        return said

    def measure(self, evaluator) -> dict[str, float] | None:
        """Quality measured (and best.safetensors kept) every eval_every steps and at the end."""
        s = self.state
        if self.writer.main and evaluator is not None and (s.step % self.cfg.eval_every == 0 or s.step == self.total_steps):
            return self.writer.measure(s, evaluator)
        return None

    def snapshot(self) -> tuple[str | None, str | None]:
        """A checkpoint and a sample grid every `snap` steps and at the end (after any measurement of this step)."""
        s = self.state
        if not (s.step % self.snap == 0 or s.step >= self.total_steps):
            return None, None
        said = self.writer.grid(s) if self.writer.main else (None, None)
        self.saved = self.writer.save(s)
        return said

    def stopped(self) -> TrainResult:
        """A stop asked for: the steps since the last line logged (so the curves reach the step saved), the grid
        of the step saved as a snapshot would have drawn it, then the checkpoint."""
        s, w = self.state, self.writer
        if self.window.n:
            self.log_line()
        if w.main and s.step > self.first_step and s.step % self.snap:
            w.grid(s)
        return self.result(interrupted=True, saved=w.save(s))

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
