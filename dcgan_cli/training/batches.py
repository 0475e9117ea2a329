"""The real images of each training step, read one step ahead."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ..core.configs import TrainConfig
from .distributed import World, shard


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
