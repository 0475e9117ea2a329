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
from dataclasses import dataclass
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
from ..runs import RunFolder
from .distributed import World, on_main, rank_seed, shard
from .precision import Precision
from .watch import Watchdog, Window, combine, diversity

GRID_SEEDS = list(range(64))  # the fixed z of every epoch's sample grid


class NonFiniteLossError(DcganError):
    pass


@dataclass
class TrainResult:
    run_dir: Path
    checkpoint: Path | None
    step: int
    epoch: int
    interrupted: bool
    last_metrics: dict[str, float]


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), from logits for numerical stability. real_target < 1 is
    one-sided label smoothing (Salimans et al. 2016): only the real side is softened."""
    return F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_target)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


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
        return _fit_locked(model_cfg, cfg, images, run, steps_per_epoch, total_steps, dataset_meta, device, resume,
                           same_run, on_step, should_stop, evaluator if cfg.eval_every else None, world)


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


def _fit_locked(model_cfg, cfg, images, run: RunFolder, steps_per_epoch: int, total_steps: int, dataset_meta, device,
                resume, same_run: bool, on_step, should_stop, evaluator, world: World) -> TrainResult:
    n = images.shape[0]
    main = world.main
    torch.manual_seed(cfg.seed)  # weight init draws from the global generator: the same on every rank
    G, D = Generator(model_cfg), Discriminator(model_cfg)
    G_ema = copy.deepcopy(G).requires_grad_(False) if cfg.ema else None
    opt_g, opt_d = make_optimizers(G, D, cfg)
    if world.active:
        torch.manual_seed(rank_seed(cfg.seed, world.rank))  # dropout differs between ranks
    noise = torch.Generator().manual_seed(rank_seed(cfg.seed, world.rank))  # z for training, drawn on the CPU on every device
    amp = Precision(cfg.precision, device)
    step = 0
    last: dict[str, float] = {}
    best: dict[str, Any] = {}
    if resume is not None:
        restore_training(resume, G, D, opt_g, opt_d, noise, device, G_ema, rank=world.rank)
        amp.load(resume.meta.get("scalers"), str(resume.path))
        step = resume.step
        last = dict(resume.metrics)
        best = dict(resume.meta.get("best") or {}) if same_run else {}
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
    # What trains: G and D themselves, or wrapped for data parallelism and compiled. The plain
    # modules (sharing the same weights) are what checkpoints, grids and evaluation use.
    G_run, D_run, d_local = G, D, contextlib.nullcontext
    if world.active:
        from torch.nn.parallel import DistributedDataParallel as DDP

        if cfg.sync_bn:
            G_run, D_run = nn.SyncBatchNorm.convert_sync_batchnorm(G), nn.SyncBatchNorm.convert_sync_batchnorm(D)
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
    d_params = list(D.parameters())

    if main:
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        run.samples.mkdir(exist_ok=True)
        if not run.marker.exists():
            run.write_marker({"dataset": cfg.dataset, "size": model_cfg.size, "created": time.strftime("%Y-%m-%dT%H:%M:%S")})
        _truncate_metrics(run.metrics, step if same_run else 0)
    fixed_z = z_from_seeds(model_cfg, GRID_SEEDS).to(device)

    def snapshot(path: Path | None = None, *, every_rank: bool = True) -> Path | None:
        """Write a checkpoint (rank 0) holding every rank's random streams; called by all ranks
        unless every_rank is False (rank 0 alone, keeping only its own streams)."""
        states = world.gather(rng_state(noise, device)) if every_rank else [rng_state(noise, device)]
        if not main:
            return None
        tensors, state_meta = training_snapshot(G, D, opt_g, opt_d, states, G_ema, amp.state())
        meta = {
            "model": model_cfg.to_dict(), "train": cfg.to_dict(), "dataset": dataset_meta or {},
            "epoch": step // steps_per_epoch, "step": step, **state_meta, "world_size": world.size, "metrics": last,
            **({"best": best} if best else {}),
        }
        if path is not None:
            return save_checkpoint(path, tensors, meta)
        path = save_checkpoint(run.checkpoint_path(step), tensors, meta)
        for old in run.list_checkpoints()[: -cfg.keep]:
            old.unlink()
        return path

    def shown() -> nn.Module:
        return G_ema if G_ema is not None else G  # what sample, evaluate and the grids use

    # A fixed set of real images, for the diversity ratio of each epoch's grid.
    real_ref = to_model_range(images[np.sort(epoch_order(n, 0, 0)[: len(GRID_SEEDS)].numpy())])

    def write_grid() -> str | None:
        """The fixed-seed grid, and its diversity logged (a warning when the samples are alike)."""
        G.eval()
        with torch.no_grad():
            grid = shown()(fixed_z)
            save_grid(grid, run.grid_path(step))
            if board is not None:
                board.add_image("samples", (make_grid(grid.cpu(), nrow=8, normalize=True, value_range=(-1, 1))), step)
        G.train()
        value = diversity(grid.cpu(), real_ref)
        warning = watchdog.check_diversity(value, step, step / total_steps)
        log({"step": step, "epoch": step // steps_per_epoch, "diversity": round(value, 4), **({"warning": warning} if warning else {})})
        return warning

    def log(line: dict[str, Any]) -> None:
        with open(run.metrics, "a") as f:
            f.write(json.dumps(line) + "\n")
        if board is not None:
            for k, v in line.items():
                if k not in ("step", "epoch") and isinstance(v, (int, float)):
                    board.add_scalar(k.replace("eval_", "eval/") if k.startswith("eval_") else f"train/{k}", v, line["step"])

    def measure() -> dict[str, float]:
        nonlocal best
        values = evaluator(shown())
        G.train()
        log({"step": step, "epoch": step // steps_per_epoch, **{f"eval_{k}": round(v, 6) for k, v in values.items()}})
        value = values.get(cfg.eval_metric)
        if value is not None and better(cfg.eval_metric, value, best.get("value")):
            best = {"metric": cfg.eval_metric, "value": value, "step": step}
            snapshot(run.best, every_rank=False)
        return values

    window, watchdog = Window(device), Watchdog()
    board = open_board(run) if cfg.tensorboard and main else None
    if board is not None and step == 0:
        board.add_image("real", make_grid(real_ref, nrow=8, normalize=True, value_range=(-1, 1)), 0)
    saved: Path | None = None
    pool = ThreadPoolExecutor(max_workers=1)  # gathers the next batch while this one trains
    window_t, window_imgs, wait_t = time.perf_counter(), 0, 0.0
    # Several processes agree on stopping at a collective; on CUDA not every step, as each
    # agreement waits for the GPU.
    agree_every = 1 if device.type == "cpu" else 10
    # Instance noise anneals over the data set's default length in images, whatever the batch.
    noise_horizon = DEFAULT_KIMG.get(cfg.dataset, 200) * 1000 / (cfg.batch_size * world.size)

    def fetch(order: torch.Tensor, b: int) -> torch.Tensor:
        idx = np.sort(shard(order, b, cfg.batch_size, world).numpy())  # sorted: memmap reads stay local
        batch = torch.from_numpy(np.ascontiguousarray(images[idx]))
        return batch.pin_memory() if device.type == "cuda" else batch

    try:
        while step < total_steps:
            epoch, b0 = divmod(step, steps_per_epoch)
            order = epoch_order(n, cfg.seed, epoch)
            nxt = pool.submit(fetch, order, b0)
            for b in range(b0, steps_per_epoch):
                asked = should_stop is not None and should_stop()
                if world.active:
                    asked = world.any(asked, device) if step % agree_every == 0 else False
                if asked:
                    saved = snapshot()
                    return TrainResult(run.path, saved, step, step // steps_per_epoch, True, last)
                t0 = time.perf_counter()
                batch = nxt.result()
                wait_t += time.perf_counter() - t0
                if b + 1 < steps_per_epoch and step + 1 < total_steps:
                    nxt = pool.submit(fetch, order, b + 1)
                real = to_model_range(batch.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
                zs = [sample_z(model_cfg, cfg.batch_size, noise).to(device) for _ in range(cfg.g_steps)]
                inst = None
                if cfg.instance_noise > 0:
                    # Drawn from the seeded CPU stream, a function of the step alone, so a resumed or extended run matches.
                    sigma = cfg.instance_noise * max(0.0, 1.0 - step / noise_horizon)
                    inst = tuple((torch.randn(real.shape, generator=noise) * sigma).to(device) for _ in range(2))
                out = train_step(G_run, D_run, opt_g, opt_d, real, zs, real_target=1.0 - cfg.label_smoothing, noise=inst,
                                 precision=amp, d_params=d_params, d_local=d_local)
                if G_ema is not None:
                    ema_update(G_ema, G, ema_decay_at(cfg, step))
                window.add(out)
                step += 1
                window_imgs += cfg.batch_size * world.size
                logged = step % cfg.log_every == 0 or step == total_steps
                # Reading a loss waits for the GPU, so there finiteness is checked on log steps and
                # before each epoch checkpoint only; a NaN, once there, stays.
                if logged or device.type == "cpu" or step % steps_per_epoch == 0:
                    values = {k: float(v) for k, v in out.items()}
                    finite = all(math.isfinite(v) for v in values.values())
                    if world.any(not finite, device):
                        where = f"; the last good checkpoint is {saved}" if saved else ("; no checkpoint was written" if main else "")
                        what = (f"(loss_d={values['loss_d']}, loss_g={values['loss_g']})" if not finite
                                else f"on another rank (rank {world.rank} was finite)")
                        raise NonFiniteLossError(f"training stopped at step {step}: the loss became non-finite {what}{where}. Try a lower --lr")
                warnings_now: list[str] = []
                if logged:
                    now = time.perf_counter()
                    # Means over the window since the last line (and the losses' min and max there),
                    # over every rank; epoch = completed epochs at this step, as in checkpoints and `dcgan info`.
                    means = combine(world.gather(window.summary()))
                    window.reset()
                    if main:
                        last = {"step": step, "epoch": step // steps_per_epoch, **{k: round(v, 5) for k, v in means.items()}}
                        last["img_per_s"] = round(window_imgs / max(now - window_t, 1e-9), 1)
                        last["data_wait"] = round(wait_t / max(now - window_t, 1e-9), 4)
                        warning = watchdog.check_window(means, step)
                        log(last | ({"warning": warning} if warning else {}))
                        warnings_now += [warning] if warning else []
                    window_t, window_imgs, wait_t = now, 0, 0.0
                evaluated = None
                if main and evaluator is not None and (step % cfg.eval_every == 0 or step == total_steps):
                    evaluated = measure()
                if step % steps_per_epoch == 0 or step >= total_steps:
                    if main:
                        grid_warning = write_grid()
                        warnings_now += [grid_warning] if grid_warning else []
                    saved = snapshot()
                if on_step is not None and main:
                    on_step({"step": step, "total_steps": total_steps, "epoch": step // steps_per_epoch, "metrics": last,
                             "logged": logged, "eval": evaluated, "best": best, "warnings": warnings_now})
                if step >= total_steps:
                    break
    finally:
        pool.shutdown(wait=True)
        if board is not None:
            board.close()
    return TrainResult(run.path, saved, step, step // steps_per_epoch, False, last)


def open_board(run: RunFolder):
    """A TensorBoard writer into RUN/tensorboard/, or a one-line error naming the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DcganError("--tensorboard needs the tensorboard package: pip install 'dcgan-cli[tensorboard]'") from None
    return SummaryWriter(log_dir=str(run.tensorboard))


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop log lines written after the checkpoint so the log matches the weights.

    Lines that do not parse (a line cut short by a kill) are dropped too.
    """
    if not path.exists():
        return
    keep = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step:
            keep.append(line)
    write_bytes(path, "".join(line + "\n" for line in keep).encode(), what="metrics log")
