"""`dcgan info`: what a checkpoint holds (model, training settings, data set, progress), as text or JSON.

Every string in a checkpoint is a stranger's: it is shown escaped (results.shown), so metadata
cannot move the cursor, retitle the terminal or print lines that look like the tool's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import bundled
from .checkpoint import Checkpoint, as_checkpoint, header_meta
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
        rows += provenance_rows(s.get("provenance"))
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
        "provenance": c.meta.get("provenance"),
    }
    return CheckpointInfo(summary=summary, checkpoint_path=c.path, step=c.step)


def _minutes(seconds: Any) -> str:
    return f"{seconds / 60:.0f} min" if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else "?"


def _quality(q: Any) -> str:
    if not isinstance(q, dict):
        return "?"
    parts = [f"domain FID {q['fid']:.3g}" if isinstance(q.get("fid"), (int, float)) else None,
             f"floor {q['fid_floor']:.3g}" if isinstance(q.get("fid_floor"), (int, float)) else None,
             f"recall {q['recall']:.2f}" if isinstance(q.get("recall"), (int, float)) else None,
             f"{q['confident']:.0%} read confidently" if isinstance(q.get("confident"), (int, float)) else None]
    return ", ".join(p for p in parts if p)


def provenance_rows(made: Any) -> list[tuple[str, Any]]:
    """How a handed-out model was made, as info rows (none for a run's own checkpoint)."""
    if not isinstance(made, dict):
        return []
    images = made.get("images_seen")
    return [("made by", made.get("command")), ("commit", made.get("commit")), ("torch", made.get("torch")),
            ("device", made.get("device")), ("cpu flags", made.get("cpu_flags")),
            ("trained", f"{images:,} images in {_minutes(made.get('train_seconds'))}" if isinstance(images, int) else "?"),
            ("quality", f"{_quality(made.get('quality'))} ({made.get('generator')}, N={(made.get('quality') or {}).get('n')})"),
            ("seed", f"{made.get('seed')}: {made.get('chosen')}; FID by seed {made.get('seeds')}"),
            ("data", made.get("data"))]


@dataclass
class ModelList(Result):
    command = "models"
    models: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"models": self.models}

    def lines(self) -> list[str]:
        if not self.models:
            return [f"no bundled models in this install ({bundled.MODELS_DIR}); `make models` trains them"]
        rows = [("name", "data set", "size", "trained on", "training", "quality")]
        for m in self.models:
            made = m.get("provenance") or {}
            images = made.get("images_seen")
            rows.append((m["name"], str(m.get("dataset")), f"{m.get('size')} px, {m.get('channels')} ch",
                         f"{images:,} images" if isinstance(images, int) else "?", _minutes(made.get("train_seconds")),
                         _quality(made.get("quality"))))
        widths = [max(len(shown(r[i])) for r in rows) for i in range(len(rows[0]))]
        out = ["  ".join(shown(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        return out + ["use a name wherever a checkpoint goes (`dcgan sample shapes --seeds 0-63`); "
                      "`dcgan info NAME` says how it was made"]


def models() -> ModelList:
    """The models bundled with the package: name, data set, size, images seen, training time, quality."""
    found = []
    for name in bundled.names():
        path = bundled.path_of(name)
        meta = header_meta(path)
        model = meta.get("model") if isinstance(meta.get("model"), dict) else {}
        dataset = meta.get("dataset") if isinstance(meta.get("dataset"), dict) else {}
        found.append({"name": name, "path": str(path), "bytes": path.stat().st_size, "dataset": dataset.get("name"),
                      "size": model.get("size"), "channels": model.get("nc"), "step": meta.get("step"),
                      "provenance": meta.get("provenance") if isinstance(meta.get("provenance"), dict) else None})
    return ModelList(models=found)
