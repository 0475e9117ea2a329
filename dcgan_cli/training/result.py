"""What `dcgan train` reports when a run ends or stops: the result object, and the error of a loss gone non-finite."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import DcganError
from ..core.results import Result
from .watch import COLLAPSE_BELOW


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
