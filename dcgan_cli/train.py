"""The DCGAN training procedure of Radford et al., resumable to the bit.

Holds the training config, the two losses, one training step, and the loop that batches a
uint8 image array, logs metrics, writes sample grids and checkpoints, and stops cleanly when
asked. The loop reports through callbacks and never prints: the CLI owns the progress bar.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import CKPT_DIR, Checkpoint, list_checkpoints, save_checkpoint
from .errors import DcganError, UsageError
from .frozen import DictRoundTrip
from .images import save_grid
from .model import Discriminator, Generator, ModelConfig, sample_z, z_from_seeds

GRID_SEEDS = list(range(64))  # the fixed z of every epoch's sample grid


@dataclass(frozen=True)
class TrainConfig(DictRoundTrip):
    """How to train; stored in every checkpoint so that --resume continues the same run."""

    _what = "training settings"

    dataset: str = "shapes"
    epochs: int = 5
    max_steps: int | None = None  # stop after this many steps in all, even mid-epoch
    batch_size: int = 128
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    g_steps: int = 1  # G updates per D update
    seed: int = 0
    keep: int = 3  # checkpoints kept in the run folder
    log_every: int = 10
    channels_last: bool = False
    limit: int | None = None  # train on the first N images only (quick experiments, tests)

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.max_steps is None or self.max_steps >= 1, f"max_steps must be at least 1, got {self.max_steps}"),
            (self.batch_size >= 2, f"batch_size must be at least 2 (batch norm needs a batch), got {self.batch_size}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta1 and beta2 must be in [0, 1)"),
            (self.g_steps >= 1, f"g_steps must be at least 1, got {self.g_steps}"),
            (self.keep >= 1, f"keep must be at least 1, got {self.keep}"),
            (self.log_every >= 1, f"log_every must be at least 1, got {self.log_every}"),
            (self.limit is None or self.limit >= 1, f"limit must be at least 1, got {self.limit}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


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


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))), from logits for numerical stability."""
    return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def g_nonsaturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating generator loss of Goodfellow et al."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def to_model_range(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], on whatever device the batch is on."""
    return batch.float().div_(127.5).sub_(1.0)


def train_step(
    G: Generator,
    D: Discriminator,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z_batches: list[torch.Tensor],
) -> dict[str, torch.Tensor]:
    """One D update, then len(z_batches) G updates. Returns detached 0-d tensors for logging.

    D sees the real and the fake batch in separate forward passes, as in the paper's code:
    mixing them in one batch would let batch norm statistics leak which half is real.
    """
    fake = G(z_batches[0])
    real_logits = D(real)
    fake_logits = D(fake.detach())
    loss_d = d_loss(real_logits, fake_logits)
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()

    for i, z in enumerate(z_batches):
        if i > 0:
            fake = G(z)
        loss_g = g_nonsaturating_loss(D(fake))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return {
        "loss_d": loss_d.detach(),
        "loss_g": loss_g.detach(),
        "d_x": torch.sigmoid(real_logits.detach()).mean(),
        "d_g_z": torch.sigmoid(fake_logits.detach()).mean(),
    }


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The image order of one epoch, a function of (seed, epoch) alone so a resume needs no state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def make_optimizers(G: nn.Module, D: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    betas = (cfg.beta1, cfg.beta2)
    return torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=betas), torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=betas)


def _optimizer_tensors(prefix: str, opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    sd = opt.state_dict()
    tensors = {f"{prefix}/{idx}/{key}": value for idx, state in sd["state"].items() for key, value in state.items()}
    return tensors, sd["param_groups"]


def _restore_optimizer(prefix: str, opt: torch.optim.Optimizer, ckpt: Checkpoint, groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in ckpt.tensors.items():
        parts = name.split("/")
        if parts[0] == prefix:
            state.setdefault(int(parts[1]), {})[parts[2]] = value
    opt.load_state_dict({"state": state, "param_groups": groups})


def train(
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
) -> TrainResult:
    """Train on `images` (N, C, H, W) uint8 (an array or a memory map), writing into run_dir.

    With `resume`, the weights, both Adam states, the RNG states and the position in the epoch
    come from that checkpoint, so the run continues exactly as if it had never stopped.
    """
    device = torch.device(device)
    run_dir = Path(run_dir)
    if cfg.limit is not None:
        images = images[: cfg.limit]
    n, c, h, w = images.shape
    if (c, h, w) != (model_cfg.nc, model_cfg.size, model_cfg.size):
        raise UsageError(
            f"the data set gives {c}x{h}x{w} images but the model makes {model_cfg.nc}x{model_cfg.size}x{model_cfg.size}; "
            "prepare the data at the model's --size"
        )
    steps_per_epoch = n // cfg.batch_size
    if steps_per_epoch == 0:
        raise UsageError(f"the data set has {n} images, fewer than one batch of {cfg.batch_size}; lower --batch-size")
    total_steps = cfg.epochs * steps_per_epoch
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)

    torch.manual_seed(cfg.seed)  # weight init and dropout draw from the global generator
    G, D = Generator(model_cfg), Discriminator(model_cfg)
    opt_g, opt_d = make_optimizers(G, D, cfg)
    noise = torch.Generator().manual_seed(cfg.seed)  # z for training, drawn on the CPU on every device
    step = 0
    if resume is not None:
        G.load_state_dict(resume.state_dict("G"))
        D.load_state_dict(resume.state_dict("D"))
        _restore_optimizer("opt_g", opt_g, resume, resume.meta["opt_g_groups"])
        _restore_optimizer("opt_d", opt_d, resume, resume.meta["opt_d_groups"])
        torch.set_rng_state(resume.tensors["rng/torch"])
        noise.set_state(resume.tensors["rng/noise"])
        if device.type == "cuda" and "rng/cuda" in resume.tensors:
            torch.cuda.set_rng_state(resume.tensors["rng/cuda"], device)
        step = resume.step
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    G.to(device, memory_format=memory_format).train()
    D.to(device, memory_format=memory_format).train()
    # Adam's state follows its parameters when loaded before the move; move it explicitly too.
    for opt in (opt_g, opt_d):
        for st in opt.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(device)

    (run_dir / CKPT_DIR).mkdir(parents=True, exist_ok=True)
    (run_dir / "samples").mkdir(exist_ok=True)
    metrics_path = run_dir / "metrics.jsonl"
    _truncate_metrics(metrics_path, step)
    fixed_z = z_from_seeds(model_cfg, GRID_SEEDS).to(device)

    def snapshot(epoch_done: int) -> Path:
        tensors: dict[str, torch.Tensor] = {}
        tensors |= {f"G/{k}": v for k, v in G.state_dict().items()}
        tensors |= {f"D/{k}": v for k, v in D.state_dict().items()}
        tg, groups_g = _optimizer_tensors("opt_g", opt_g)
        td, groups_d = _optimizer_tensors("opt_d", opt_d)
        tensors |= tg | td
        tensors["rng/torch"] = torch.get_rng_state()
        tensors["rng/noise"] = noise.get_state()
        if device.type == "cuda":
            tensors["rng/cuda"] = torch.cuda.get_rng_state(device)
        meta = {
            "model": model_cfg.to_dict(),
            "train": cfg.to_dict(),
            "dataset": dataset_meta or {},
            "epoch": epoch_done,
            "step": step,
            "opt_g_groups": groups_g,
            "opt_d_groups": groups_d,
            "metrics": last,
        }
        path = save_checkpoint(run_dir / CKPT_DIR / f"step-{step:08d}.safetensors", tensors, meta)
        for old in list_checkpoints(run_dir)[: -cfg.keep]:
            old.unlink()
        return path

    def write_grid(epoch_done: int) -> None:
        G.eval()
        with torch.no_grad():
            save_grid(G(fixed_z), run_dir / "samples" / f"epoch-{epoch_done:04d}.png")
        G.train()

    last: dict[str, float] = {}
    saved: Path | None = None
    pool = ThreadPoolExecutor(max_workers=1)  # gathers the next batch while this one trains
    window_t, window_imgs, wait_t = time.perf_counter(), 0, 0.0

    def fetch(order: torch.Tensor, b: int) -> torch.Tensor:
        idx = np.sort(order[b * cfg.batch_size : (b + 1) * cfg.batch_size].numpy())  # sorted: memmap reads stay local
        batch = torch.from_numpy(np.ascontiguousarray(images[idx]))
        return batch.pin_memory() if device.type == "cuda" else batch

    try:
        while step < total_steps:
            epoch, b0 = divmod(step, steps_per_epoch)
            order = epoch_order(n, cfg.seed, epoch)
            nxt = pool.submit(fetch, order, b0)
            for b in range(b0, steps_per_epoch):
                if should_stop is not None and should_stop():
                    saved = snapshot(epoch)
                    return TrainResult(run_dir, saved, step, epoch, True, last)
                t0 = time.perf_counter()
                batch = nxt.result()
                wait_t += time.perf_counter() - t0
                if b + 1 < steps_per_epoch and step + 1 < total_steps:
                    nxt = pool.submit(fetch, order, b + 1)
                real = to_model_range(batch.to(device, non_blocking=True)).contiguous(memory_format=memory_format)
                zs = [sample_z(model_cfg, cfg.batch_size, noise).to(device) for _ in range(cfg.g_steps)]
                out = train_step(G, D, opt_g, opt_d, real, zs)
                step += 1
                window_imgs += cfg.batch_size
                logged = step % cfg.log_every == 0 or step == total_steps
                # Reading a loss waits for the GPU, so there finiteness is checked on log steps and
                # before each epoch checkpoint only; a NaN, once there, stays.
                if logged or device.type == "cpu" or step % steps_per_epoch == 0:
                    values = {k: float(v) for k, v in out.items()}
                    if not all(math.isfinite(v) for v in values.values()):
                        where = f"; the last good checkpoint is {saved}" if saved else "; no checkpoint was written"
                        raise NonFiniteLossError(
                            f"training stopped at step {step}: the loss became non-finite "
                            f"(loss_d={values['loss_d']}, loss_g={values['loss_g']}){where}. Try a lower --lr"
                        )
                if logged:
                    now = time.perf_counter()
                    last = {"step": step, "epoch": epoch, **{k: round(v, 5) for k, v in values.items()}}
                    last["img_per_s"] = round(window_imgs / max(now - window_t, 1e-9), 1)
                    last["data_wait"] = round(wait_t / max(now - window_t, 1e-9), 4)
                    with open(metrics_path, "a") as f:
                        f.write(json.dumps(last) + "\n")
                    window_t, window_imgs, wait_t = now, 0, 0.0
                if on_step is not None:
                    on_step({"step": step, "total_steps": total_steps, "epoch": epoch, "metrics": last})
                if step >= total_steps:
                    break
            epoch_done = step // steps_per_epoch
            if step % steps_per_epoch == 0:
                write_grid(epoch_done)
                saved = snapshot(epoch_done)
        if saved is None or not saved.name.endswith(f"{step:08d}.safetensors"):
            saved = snapshot(step // steps_per_epoch)
            write_grid(step // steps_per_epoch)
    finally:
        pool.shutdown(wait=True)
    return TrainResult(run_dir, saved, step, step // steps_per_epoch, False, last)


def _truncate_metrics(path: Path, step: int) -> None:
    """On resume, drop log lines written after the checkpoint so the log matches the weights."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in keep))
