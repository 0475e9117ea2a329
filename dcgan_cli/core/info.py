"""`dcgan info`: what a checkpoint holds (model, training settings, data set, progress), as text or JSON.

Every string in a checkpoint is a stranger's: it is shown escaped (results.shown), so metadata
cannot move the cursor, retitle the terminal or print lines that look like the tool's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, as_checkpoint
from .results import Result, shown


@dataclass
class CheckpointInfo(Result):
    command = "info"
    summary: dict[str, Any]
    checkpoint_path: Path | None = None
    step: int = 0

    def to_dict(self) -> dict[str, Any]:
        return self.summary

    def lines(self) -> list[str]:
        s = self.summary
        rows = [(key, s[key]) for key in ("path", "format_version", "package_version", "epoch", "step", "generator",
                                          "processes", "best", "parameters", "run")]
        for section in ("model", "train", "dataset", "metrics"):
            rows.append((section, ", ".join(f"{k}={v}" for k, v in s[section].items() if k not in ("label_names", "groups"))))
        if s["dataset"].get("label_names"):
            rows.append(("labels", ", ".join(map(str, s["dataset"]["label_names"]))))
        width = max(len(k) for k, _ in rows)
        return [f"{k:<{width}}  {shown(v)}" for k, v in rows]


def info(ckpt: Checkpoint | str | Path | None) -> CheckpointInfo:
    c = as_checkpoint(ckpt)
    summary = {
        "path": str(c.path), "format_version": c.meta["format_version"], "package_version": c.meta.get("package_version"),
        "epoch": c.epoch, "step": c.step, "generator": "EMA (G_ema) and G" if c.has_ema else "G",
        "processes": int(c.meta.get("world_size", 1)), "best": c.meta.get("best"),
        "model": c.model_config.to_dict(), "train": c.train_config.to_dict(),
        "dataset": c.meta.get("dataset", {}), "metrics": c.metrics, "run": str(c.run.path) if c.run else None,
        "tensors": len(c.tensors), "parameters": {p: sum(v.numel() for v in c.state_dict(p).values()) for p in ("G", "D")},
    }
    return CheckpointInfo(summary=summary, checkpoint_path=c.path, step=c.step)
