"""Putting a run's configs together: data set default preset < --preset < TOML file < flags.

A TOML file has up to two tables, [model] (ModelConfig fields) and [train] (TrainConfig
fields). On --resume the stored configs win and only settings that cannot change the
result's history (how long to train, where, how often to log) may be given again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tomllib

from .errors import UsageError
from .model import PRESETS, ModelConfig
from .train import TrainConfig

DEFAULT_PRESET = {
    "shapes": "shapes32",
    "mnist": "mnist28",
    "fashion-mnist": "mnist28",
    "svhn": "svhn32",
    "cifar10": "cifar32",
    "celeba": "celeba64",
}
MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelConfig)}
TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}
RESUMABLE = {"epochs", "max_steps", "keep", "log_every"}


def read_toml(path: Path) -> dict[str, dict[str, Any]]:
    try:
        doc = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UsageError(f"--config {path} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config {path} is not valid TOML: {e}") from None
    unknown = sorted(set(doc) - {"model", "train"})
    if unknown:
        raise UsageError(f"--config {path}: unknown table [{unknown[0]}]; use [model] and [train]")
    for table, fields in (("model", MODEL_FIELDS), ("train", TRAIN_FIELDS)):
        bad = sorted(set(doc.get(table, {})) - fields)
        if bad:
            raise UsageError(f"--config {path}: [{table}] has no setting {bad[0]!r}; known: {', '.join(sorted(fields))}")
    return doc


def build_configs(
    dataset: str,
    *,
    preset: str | None = None,
    config_file: Path | None = None,
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """Merge the layers into validated configs. None in an override means 'not given'."""
    name = preset or DEFAULT_PRESET.get(dataset, "paper64")
    if name not in PRESETS:
        raise UsageError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    model: dict[str, Any] = dict(PRESETS[name])
    train: dict[str, Any] = {"dataset": dataset}
    if config_file is not None:
        doc = read_toml(config_file)
        model |= doc.get("model", {})
        train |= doc.get("train", {})
    model |= {k: v for k, v in (model_overrides or {}).items() if v is not None}
    train |= {k: v for k, v in (train_overrides or {}).items() if v is not None}
    try:
        return ModelConfig(**model), TrainConfig(**train)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


def resume_configs(
    stored_model: ModelConfig,
    stored_train: TrainConfig,
    model_overrides: dict[str, Any],
    train_overrides: dict[str, Any],
) -> TrainConfig:
    """Refuse changes that would make the resumed run differ from the stored one."""
    for k, v in model_overrides.items():
        if v is not None and getattr(stored_model, k) != v:
            raise UsageError(f"cannot change {k} on --resume (the run has {getattr(stored_model, k)!r}, you gave {v!r}); start a new run with --out")
    changes = {}
    for k, v in train_overrides.items():
        if v is None or getattr(stored_train, k) == v:
            continue
        if k not in RESUMABLE:
            raise UsageError(
                f"cannot change {k} on --resume (the run has {getattr(stored_train, k)!r}, you gave {v!r}); "
                f"only {', '.join(sorted(RESUMABLE))} may change"
            )
        changes[k] = v
    try:
        return dataclasses.replace(stored_train, **changes)
    except ValueError as e:
        raise UsageError(str(e)) from None
