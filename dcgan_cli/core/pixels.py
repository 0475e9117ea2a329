"""The one home of pixel-range conversions: uint8 [0, 255] <-> the model's float [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch


def to_model_range(u8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1], same shape, on the tensor's device."""
    t = torch.from_numpy(np.array(u8)) if isinstance(u8, np.ndarray) else u8  # a copy: memmap slices are read-only
    return t.float().div_(127.5).sub_(1.0)


def to_pixel_units(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> float [0, 255], unrounded: the inverse of to_model_range."""
    return (x + 1.0) * 127.5


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (values outside are clipped) -> uint8 [0, 255], rounded, on the CPU."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)


def to_hwc_uint8(images: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) uint8 array, for image files."""
    return to_uint8(images).permute(0, 2, 3, 1).numpy()


def flat_model_range(u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images (N, ...) -> (N, D) float64 holding the float32 model-range values exactly."""
    return to_model_range(u8).reshape(u8.shape[0], -1).double()
