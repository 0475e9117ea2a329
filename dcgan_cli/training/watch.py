"""Watching a run: window statistics for the log, and the warnings a user needs to hear.

- `Window` sums each step's losses and D outputs on the device (no GPU sync per step) and gives
  the means over the logging window, with the window's min and max of both losses.
- `diversity` is the mean pairwise distance of the fixed-seed grid's samples divided by the same
  for real images: near 1 for a healthy generator, near 0 when every seed gives the same picture.
- `Watchdog` turns those numbers into one-line warnings: mode collapse, and D having won.
"""

from __future__ import annotations

import torch

COLLAPSE_BELOW = (
    0.4  # diversity ratio under which the grid is called collapsed (calibrated by eye on shapes grids: 0.32 was one blob)
)
# Recovery needs this much: a grid that wavers around COLLAPSE_BELOW (0.38, 0.43, 0.38) tells one story, not three.
RECOVER_ABOVE = 0.5
D_WON_X, D_WON_GZ, D_WON_WINDOWS = 0.98, 0.02, 3  # D(x) above, D(G(z)) below, for this many log windows
D_AHEAD_X, D_AHEAD_GZ = 0.9, 0.1  # the last window's D(x) above, D(G(z)) below: alike samples then are collapse


class Window:
    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.sums: dict[str, torch.Tensor] = {}
        self.mins: dict[str, torch.Tensor] = {}
        self.maxs: dict[str, torch.Tensor] = {}

    def add(self, out: dict[str, torch.Tensor]) -> None:
        self.n += 1
        for k, v in out.items():
            v = v.detach().float()
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
            if k in ("loss_d", "loss_g"):
                self.mins[k] = torch.minimum(self.mins[k], v) if k in self.mins else v.clone()
                self.maxs[k] = torch.maximum(self.maxs[k], v) if k in self.maxs else v.clone()

    def summary(self) -> dict[str, float]:
        """Means over the window, plus loss_d_min, loss_d_max, loss_g_min, loss_g_max."""
        out = {k: float(v) / max(self.n, 1) for k, v in self.sums.items()}
        out |= {f"{k}_min": float(v) for k, v in self.mins.items()} | {f"{k}_max": float(v) for k, v in self.maxs.items()}
        return out


def combine_windows(summaries: list[dict[str, float]]) -> dict[str, float]:
    """One window summary from every rank's: means averaged, the minima's minimum, the maxima's maximum."""
    if len(summaries) == 1:
        return summaries[0]
    out = {}
    for k in summaries[0]:
        values = [s[k] for s in summaries]
        out[k] = min(values) if k.endswith("_min") else max(values) if k.endswith("_max") else sum(values) / len(values)
    return out


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L2 distance between distinct rows of x (B, ...), per pixel (RMS)."""
    f = x.detach().float().flatten(1)
    d = torch.cdist(f, f)  # (B, B)
    b = f.shape[0]
    return float(d.sum() / (b * (b - 1))) / f.shape[1] ** 0.5


def diversity(samples: torch.Tensor, real: torch.Tensor) -> float:
    """Pairwise spread of generated samples relative to that of real images, both in [-1, 1]."""
    return mean_pairwise_distance(samples) / max(mean_pairwise_distance(real), 1e-8)


class Watchdog:
    """Warnings, each said once until the symptom goes away (then a note says so) and comes back.

    A fresh G draws near-constant images, and a short run may end before it learns to vary them:
    that is "not learned yet", not collapse. Collapse is diversity lost after the grid was once
    diverse, or alike samples while D is well ahead (G then gets little gradient to vary them), at any point.
    Collapse is called below COLLAPSE_BELOW and over only above RECOVER_ABOVE, so a wavering grid
    does not flap between the two."""

    def __init__(self) -> None:
        self.collapsed = False
        self.alike_said = self.varied_said = False  # "not learned yet" and its end, each noted once
        self.peak = 0.0
        self.d_won_windows = 0
        self.d_won_said = False
        self.d_ahead = False  # in the last log window

    def check_diversity(self, value: float, step: int) -> tuple[str | None, str | None]:
        """(warning, note) for a grid's diversity."""
        was_diverse = self.peak >= COLLAPSE_BELOW
        self.peak = max(self.peak, value)
        if value < COLLAPSE_BELOW:
            # Alike samples while D is well ahead leave G little gradient to vary them: collapse, however
            # early (the paper recipe's steps 128-384 on shapes: 64 alike tiles, D(x) ~0.95, D(G(z)) ~0.05).
            # Alike with D not ahead is "not learned yet".
            if not self.collapsed and (was_diverse or self.d_ahead or self.d_won_windows >= D_WON_WINDOWS):
                self.collapsed = True
                early = "" if was_diverse else " (collapsed early, before the samples ever varied)"
                return (f"mode collapse at step {step}{early}: the 64 fixed-seed samples are nearly alike (diversity "
                        f"{value:.2f} of real images'; healthy is near 1). Try --ema, a lower --lr or --d-lr, "
                        "--label-smoothing 0.1, or another --seed; `dcgan evaluate` measures recall"), None
            if not self.collapsed and not self.alike_said:  # said once, so a reader of the log knows it was seen
                self.alike_said = True
                return None, (f"the 64 fixed-seed samples are nearly alike at step {step} (diversity {value:.2f}), with D "
                              "not ahead: not learned yet; a warning follows if they stay alike while D pulls ahead")
            return None, None
        if value < RECOVER_ABOVE:  # between the two bars: whatever was said last still holds
            return None, None
        if self.collapsed:
            self.collapsed, self.varied_said = False, True
            return None, f"diversity back to {value:.2f} at step {step}: the samples vary again (recovered)"
        if self.alike_said and not self.varied_said:
            self.varied_said = True
            return None, f"diversity up to {value:.2f} at step {step}: the samples vary now"
        return None, None

    def check_window(self, means: dict[str, float], step: int) -> tuple[str | None, str | None]:
        """(warning, note) for one log window's means."""
        self.d_ahead = means.get("d_x", 0) > D_AHEAD_X and means.get("d_g_z", 1) < D_AHEAD_GZ
        if means.get("d_x", 0) > D_WON_X and means.get("d_g_z", 1) < D_WON_GZ:
            self.d_won_windows += 1
        else:
            cleared = self.d_won_said
            self.d_won_windows, self.d_won_said = 0, False
            if cleared:
                return None, (f"D no longer dominates at step {step}: D(x) {means.get('d_x', 0):.2f}, "
                              f"D(G(z)) {means.get('d_g_z', 0):.2f}")
        if self.d_won_windows >= D_WON_WINDOWS and not self.d_won_said:
            self.d_won_said = True
            return (f"D has won at step {step}: D(x) {means['d_x']:.3f}, D(G(z)) {means['d_g_z']:.3f} for "
                    f"{self.d_won_windows} log windows, so G gets almost no gradient. Try --d-lr below --lr, "
                    "--label-smoothing 0.1, --instance-noise 0.1, or --spectral-norm"), None
        return None, None
