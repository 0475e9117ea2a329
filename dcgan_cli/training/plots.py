"""Pictures of a run: loss and metric curves, the fixed-seed grid over training, real vs fake.

    RUN/plots/curves.png        losses (raw and smoothed), D(x) and D(G(z)), diversity, metrics
    RUN/plots/progress.gif      the fixed-seed grid at every saved step, enlarged for small models
    RUN/plots/real-vs-fake.png  real training images beside the newest grid

The curves need matplotlib (`pip install 'dcgan-cli[plot]'`); the other two need only Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..core.errors import DcganError
from ..core.files import OutputError, write_atomic
from ..core.images import read_picture, save_gif, save_mp4, save_pil, video_available
from ..core.records import is_number
from ..core.results import Result, shown
from ..core.runs import RunFolder
from .watch import COLLAPSE_BELOW

MIN_WIDTH = 512  # a 32 px model's 8x8 grid is 274 px: enlarge it to be seen


def _enlarge(img: Image.Image) -> Image.Image:
    factor = max(1, -(-MIN_WIDTH // img.width))
    return img.resize((img.width * factor, img.height * factor), Image.Resampling.NEAREST) if factor > 1 else img


def progress_gif(run: RunFolder, duration_ms: int = 400) -> Path:
    grids = run.list_grids()
    if not grids:
        raise DcganError(f"{run.path} has no sample grids yet ({run.samples}/step-N.png)")
    frames = []
    for step, path in grids:
        frame = _enlarge(read_picture(path))
        _label(frame, f"step {step}", (6, 6))
        frames.append(frame)
    if video_available():  # an MP4 beside the GIF where an encoder is installed (the video extra)
        save_mp4(frames, run.plots / "progress.mp4", fps=max(1, 1000 // duration_ms))
    return save_gif(frames, run.plots / "progress.gif", duration_ms=duration_ms)


def real_vs_fake(run: RunFolder, real_u8: np.ndarray) -> Path:
    """64 real images (N, C, H, W) uint8 beside the newest fixed-seed grid, with labels."""
    from ..core.images import grid_image
    from ..core.pixels import to_model_range

    grids = run.list_grids()
    if not grids:
        raise DcganError(f"{run.path} has no sample grids yet")
    real = _enlarge(grid_image(to_model_range(np.asarray(real_u8[:64])), nrow=8))
    fake = _enlarge(read_picture(grids[-1][1]))
    band = 30  # room for the 20 px labels above the grids
    out = Image.new("RGB", (real.width + fake.width + 8, max(real.height, fake.height) + band), (0, 0, 0))
    out.paste(real, (0, band))
    out.paste(fake, (real.width + 8, band))
    _label(out, "real", (4, 4), box=False, size=20)
    _label(out, f"generated, step {grids[-1][0]}", (real.width + 12, 4), box=False, size=20)
    return save_pil(out, run.plots / "real-vs-fake.png")


def _label(img: Image.Image, text: str, at: tuple[int, int], box: bool = True, size: int | None = None) -> None:
    """Text a person reads at the picture's size (16 px or more), on a dark box where it lies over pictures."""
    from PIL import ImageFont

    font = ImageFont.load_default(size=size or max(16, img.width // 32))
    draw = ImageDraw.Draw(img)
    if box:
        x0, y0, x1, y1 = draw.textbbox(at, text, font=font)
        draw.rectangle((x0 - 4, y0 - 3, x1 + 4, y1 + 3), fill=(0, 0, 0))
    draw.text(at, text, fill=(255, 255, 0) if box else (255, 255, 255), font=font)


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """TensorBoard-style exponential smoothing, debiased at the start."""
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight ** (i + 1)))
    return out


def curves(run: RunFolder) -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise DcganError("the curves need matplotlib: pip install 'dcgan-cli[plot]'") from None
    lines = [m for m in run.read_metrics() if 0 <= m["step"] < 2**53]
    # A damaged log (strings for numbers, missing keys, huge values) loses the damaged lines only.
    train = [m for m in lines if all(is_number(m.get(k)) for k in ("loss_d", "loss_g", "d_x", "d_g_z"))]
    if not train:
        raise DcganError(f"{run.metrics} holds no training lines yet")
    if not all(is_number(m.get(f"{k}_{e}")) for m in train for k in ("loss_d", "loss_g") for e in ("min", "max")):
        train = [{k: v for k, v in m.items() if not k.endswith(("_min", "_max"))} for m in train]
    evals = [{k: v for k, v in m.items() if k == "step" or (k.startswith("eval_") and is_number(v))} for m in lines]
    evals = [m for m in evals if len(m) > 1]
    div = [m for m in lines if is_number(m.get("diversity"))]
    panels = 3 + bool(evals)
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.6 * panels), sharex=True)
    steps = [m["step"] for m in train]
    ax = axes[0]
    for key, colour in (("loss_d", "tab:blue"), ("loss_g", "tab:orange")):
        vals = [m[key] for m in train]
        ax.plot(steps, vals, color=colour, alpha=0.3, linewidth=0.8)
        ax.plot(steps, smooth(vals), color=colour, label=f"{key} (smoothed)")
        if f"{key}_min" in train[0]:
            ax.fill_between(steps, [m[f"{key}_min"] for m in train], [m[f"{key}_max"] for m in train], color=colour, alpha=0.1)
    ax.set_ylabel("loss")
    ax.legend(loc="upper right")
    ax = axes[1]
    ax.plot(steps, [m["d_x"] for m in train], label="D(x)")
    ax.plot(steps, [m["d_g_z"] for m in train], label="D(G(z))")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    ax = axes[2]
    if div:
        ax.plot([m["step"] for m in div], [m["diversity"] for m in div], marker="o", label="diversity of the grid (1 = real)")
        ax.axhline(COLLAPSE_BELOW, color="red", linestyle=":", label="collapse warning")
        ax.set_ylim(0, 1.7 * max(1.0, *(m["diversity"] for m in div)))  # room above the points for the legend
        ax.legend(loc="upper right", ncol=2)
    ax.set_ylabel("diversity")
    if evals:
        ax = axes[3]
        for key in sorted({k for m in evals for k in m if k.startswith("eval_") and not k.endswith("_std")}):
            ax.plot([m["step"] for m in evals if key in m], [m[key] for m in evals if key in m], marker="o", label=key[5:])
        ax.set_yscale("log")
        ax.legend(loc="upper right")
    axes[-1].set_xlabel("step")
    fig.suptitle(shown(run.path.resolve().name))  # the run, not where this machine keeps it; controls as escapes
    # Fixed margins in inches rather than tight_layout, which measures every label first: a run writes this
    # plot whenever it ends, and tight_layout was most of its cost (docs/measured.md, "Figures behind code").
    height = fig.get_figheight()
    fig.subplots_adjust(left=0.9 / 8, right=1 - 0.25 / 8, bottom=0.55 / height, top=1 - 0.5 / height, hspace=0.12)
    path = run.plots / "curves.png"
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=100), what="plot")
    plt.close(fig)
    return path


@dataclass
class Pictures(Result):
    """The run's pictures: for each, the file drawn, or why it could not be."""

    command = "plot"
    run_dir: Path
    drawn: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # nothing to draw it from yet
    failed: dict[str, str] = field(default_factory=dict)  # could not be written
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        return {"run": str(self.run_dir), "drawn": {k: str(v) for k, v in self.drawn.items()}, "skipped": self.skipped,
                "failed": self.failed}

    def lines(self) -> list[str]:
        return ([f"drew {p}" for p in self.drawn.values()] + [f"{k}: skipped ({why})" for k, why in self.skipped.items()]
                + [f"{k}: FAILED ({why})" for k, why in self.failed.items()])


def plot_run(run_path: Path, *, real_u8: np.ndarray | None = None) -> Pictures:
    """Every picture that can be drawn; for each that cannot, the reason instead of a path."""
    run = RunFolder(Path(run_path))
    if not run.is_run():
        raise DcganError(f"{run.path} is not a run folder (no {run.marker.name} or metrics); pass the folder `dcgan train` wrote")
    done = Pictures(run.path)
    for name, fn in (("curves", lambda: curves(run)), ("progress", lambda: progress_gif(run)),
                     ("real-vs-fake", lambda: real_vs_fake(run, real_u8) if real_u8 is not None else "no real images given")):
        try:
            made = fn()
        except OutputError as e:  # asked for and not written: a read-only or full folder
            done.failed[name] = str(e)
            continue
        except DcganError as e:
            made = str(e)
        except Exception as e:  # noqa: BLE001  a damaged log or picture in the run must not fail the run it ends
            made = f"{type(e).__name__}: {e}"
        if isinstance(made, Path):
            done.drawn[name] = made
        else:
            done.skipped[name] = made
    return done


def plot(target: Path | None, *, data_root: Path | None = None, cache_dir: Path | None = None) -> Pictures:
    """`dcgan plot`: the pictures of the run a checkpoint (or run folder) belongs to, with real images
    from its training data where they can be found."""
    from ..core.checkpoint import load_checkpoint
    from ..core.errors import UsageError
    from ..data import checkpoint_data
    from ..data.cache import real_subset

    c = load_checkpoint(target)
    folder = c.run or (RunFolder(Path(target)) if target is not None and Path(target).is_dir() else None)
    if folder is None:
        raise UsageError(f"{c.path} is not inside a run folder; pass the folder `dcgan train` wrote")
    notes = []
    try:
        real = real_subset(checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir), 64)
    except DcganError as e:
        real = None
        notes.append(f"no real images for real-vs-fake ({e})")
    pictures = plot_run(folder.path, real_u8=real)
    pictures.notes = notes
    return pictures
