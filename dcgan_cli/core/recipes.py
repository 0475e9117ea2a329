"""The layers a run's settings are merged from, lowest first: the data set's default preset (or
--preset), the data set's defaults, the --recipe, a TOML file, the flags; and the recipes themselves.

Every layer goes through the configs' own checks (configs.py), so a bad value is an error naming
the layer it came from. This module imports no torch.
"""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path
from typing import Any, TypeVar

from .configs import (
    AUGMENTS,
    DATASETS,
    DEFAULT_BATCH,
    DEFAULT_KIMG,
    DEFAULT_PRESET,
    LONG_RUN_EVALS,
    LONG_RUN_STEPS,
    MODEL_FIELDS,
    PRESET_FOR_SIZE,
    PRESETS,
    RECIPE_NAMES,
    RESUMABLE,
    SNAP_KIMG,
    TRAIN_FIELDS,
    ModelConfig,
    Settings,
    TrainConfig,
    flag,
)
from .errors import UsageError
from .files import why_missing
from .records import ConfigError

T = TypeVar("T", bound=Settings)

# Training recipes: layers of settings between the preset and the TOML file. `paper` is Radford
# et al.'s procedure exactly (the dataclass defaults, restated as a layer so that no layer below changes
# them); `default` is the recipe that measured best per minute for the data set's family
# (FAMILY_RECIPES, docs/measured.md), and what a run without --recipe trains with.
PAPER_TRAIN: dict[str, Any] = {k: getattr(TrainConfig, k) for k in (
    "lr", "beta1", "beta2", "g_steps", "loss", "ema", "label_smoothing", "instance_noise", "r1", "augment", "lr_schedule")}
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "default": {"model": {}, "train": {}},  # filled in per family by recipe_layer
    "paper": {"model": {"spectral_norm": False}, "train": PAPER_TRAIN},
}
FAMILIES = ("shapes", "small", "large")  # the built-in shapes; 28/32 px digit-like sets; 64/128 px photos
FAMILY_RECIPES: dict[str, dict[str, Any]] = {
    "shapes": {"loss": "hinge", "batch_size": 32, "kimg": 70},  # docs/measured.md, "Shapes, at the demo's training time"
    "small": {},  # not measured yet: the paper's
    "large": {},  # MNIST at 64 px: no clear win for the hinge loss (docs/measured.md)
}


def family(dataset: str, size: int) -> str:
    return "shapes" if dataset == "shapes" else ("small" if size <= 32 else "large")


def recipe_layer(name: str, dataset: str, size: int) -> dict[str, dict[str, Any]]:
    """The settings a recipe sets, as {"model": .., "train": ..}, for this data set at this size."""
    if name == "default":
        return {"model": {}, "train": {**PAPER_TRAIN, **FAMILY_RECIPES[family(dataset, size)]}}
    return RECIPES[name]


def recipe_words(cfg: TrainConfig, model: ModelConfig | None = None) -> str:
    """What a run's settings change from Radford et al.'s procedure, in a few words ("" for none)."""
    words = []
    if cfg.loss != "nonsaturating":
        words.append(f"{cfg.loss} loss")
    if (cfg.lr, cfg.beta1, cfg.beta2) != (PAPER_TRAIN["lr"], PAPER_TRAIN["beta1"], PAPER_TRAIN["beta2"]):
        words.append(f"lr {cfg.lr:g}, betas ({cfg.beta1:g}, {cfg.beta2:g})")
    if cfg.d_lr is not None or cfg.d_beta1 is not None or cfg.d_beta2 is not None:
        b1, b2 = (cfg.beta1 if cfg.d_beta1 is None else cfg.d_beta1), (cfg.beta2 if cfg.d_beta2 is None else cfg.d_beta2)
        words.append(f"D lr {cfg.d_lr if cfg.d_lr is not None else cfg.lr:g}, betas ({b1:g}, {b2:g})")
    if cfg.lr_schedule != "constant":
        words.append(f"{cfg.lr_schedule} lr decay")
    if cfg.g_steps != 1:
        words.append(f"{cfg.g_steps} G steps per D step")
    if cfg.r1 > 0:
        words.append(f"R1 {cfg.r1:g} every {cfg.r1_every} steps")
    if cfg.ema:
        words.append(f"EMA {cfg.ema_kimg:g} kimg" + (f" ramped {cfg.ema_rampup:g}" if cfg.ema_rampup else "")
                     if cfg.ema_kimg is not None else f"EMA decay {cfg.ema_decay:g}")
    if cfg.augment:
        words.append(f"DiffAugment {cfg.augment}")
    if cfg.label_smoothing:
        words.append(f"label smoothing {cfg.label_smoothing:g}")
    if cfg.instance_noise:
        words.append(f"instance noise {cfg.instance_noise:g}")
    if model is not None and model.spectral_norm:
        words.append("spectral norm in D")
    return ", ".join(words)


assert tuple(RECIPES) == RECIPE_NAMES


def flag_help(f: dataclasses.Field) -> str:
    """A config field's --help text: its declared text with its default and the recipes' figures filled in."""
    default = f.default
    shown = f"{default:g}" if isinstance(default, float) else str(default)
    return f.metadata["help"].format(
        default=shown, shapes_kimg=FAMILY_RECIPES["shapes"]["kimg"], shapes_batch=FAMILY_RECIPES["shapes"]["batch_size"],
        shapes_loss=FAMILY_RECIPES["shapes"]["loss"], shapes_paper_batch=DEFAULT_BATCH["shapes"],
        mnist_kimg=DEFAULT_KIMG["mnist"], long_run_evals=LONG_RUN_EVALS, long_run_steps=LONG_RUN_STEPS, snap_kimg=SNAP_KIMG,
        augments=",".join(AUGMENTS))


def read_toml(path: Path) -> dict[str, dict[str, Any]]:
    """A TOML file with at most a [model] and a [train] table, every key a known setting."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the same parser, as a package
        import tomli as tomllib

    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        raise UsageError(f"--config {path} is not a regular file (a pipe or device?); pass a .toml file")
    try:
        doc = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config {path} {why_missing(path)}") from None
    except IsADirectoryError:
        raise UsageError(f"--config {path} is a folder; pass a .toml file") from None
    except PermissionError:
        raise UsageError(f"--config {path} cannot be read (permission denied)") from None
    except OSError as e:
        why = why_missing(path) if e.errno == errno.ELOOP else f"cannot be read ({e.strerror or e})"
        raise UsageError(f"--config {path} {why}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--config {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"--config {path} is not valid TOML: {e}") from None
    unknown = sorted(set(doc) - {"model", "train"})
    if unknown:
        raise UsageError(f"--config {path}: unknown table [{unknown[0]}]; use [model] and [train]")
    for table, fields in (("model", MODEL_FIELDS), ("train", TRAIN_FIELDS)):
        if table in doc and not isinstance(doc[table], dict):
            raise UsageError(f"--config {path}: {table} must be a table, written [{table}] on a line of its own")
        bad = sorted(set(doc.get(table, {})) - fields)
        if bad:
            raise UsageError(f"--config {path}: [{table}] has no setting {bad[0]!r}; known: {', '.join(sorted(fields))}")
    return doc


def _build(cls: type[T], layers: list[tuple[str, dict[str, Any]]]) -> T:
    """Merge layers (lowest first); a bad value is reported with the layer that supplied it."""
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, values in layers:
        for k, v in values.items():
            if v is not None:
                merged[k], origin[k] = v, where
    try:
        return cls(**merged)
    except ConfigError as e:
        where = origin.get(e.field, "")
        if where == "flag":
            raise UsageError(f"{flag(e.field)} {e.problem}") from None
        if where.startswith("--config"):
            table = "model" if cls is ModelConfig else "train"
            raise UsageError(f"{where}: [{table}] {e.field} {e.problem}") from None
        if where.startswith("--preset"):
            raise UsageError(f"{where}: {e.field} {e.problem}") from None
        raise UsageError(f"{flag(e.field)} {e.problem}") from None


def build_configs(
    dataset: str | None,
    *,
    preset: str | None = None,
    recipe: str | None = None,
    config_file: Path | None = None,
    model_overrides: dict[str, Any] | None = None,
    train_overrides: dict[str, Any] | None = None,
) -> tuple[ModelConfig, TrainConfig]:
    """Merge the layers into validated configs. None in an override means 'not given'.

    Layers, lowest first: the preset (the data set's, or the paper network for an explicit
    --size, or --preset), the --recipe, the TOML file, the flags.

    The data set itself may come from the TOML file, so it is settled first: flag, then TOML,
    then the built-in shapes; its default preset follows from it.
    """
    doc = read_toml(config_file) if config_file is not None else {}
    toml_train = doc.get("train", {})
    chosen = dataset if dataset is not None else toml_train.get("dataset", "shapes")
    if chosen not in DATASETS:
        src = "--dataset" if dataset is not None else f"--config {config_file}: [train] dataset"
        raise UsageError(f"{src}: unknown data set {chosen!r}; choose one of {', '.join(DATASETS)}")
    name = preset or DEFAULT_PRESET.get(chosen, "paper64")
    size = (model_overrides or {}).get("size") or doc.get("model", {}).get("size")
    if preset is None and size in PRESET_FOR_SIZE and PRESETS[name]["size"] != size:
        name = PRESET_FOR_SIZE[size]
    if name not in PRESETS:
        raise UsageError(f"--preset {name!r} is not a preset; choose one of {', '.join(PRESETS)}")
    src = "--recipe" if recipe is not None else f"--config {config_file}: [train] recipe"
    recipe = recipe if recipe is not None else toml_train.get("recipe", "default")
    if not isinstance(recipe, str) or recipe not in RECIPES:
        raise UsageError(f"{src} {recipe!r} is not a recipe; choose one of {', '.join(RECIPES)}")
    cfg_where = f"--config {config_file}"
    model = _build(ModelConfig, [(f"--preset {name}", PRESETS[name]), (cfg_where, doc.get("model", {})),
                                 ("flag", model_overrides or {})])
    r = recipe_layer(recipe, chosen, model.size)  # the family follows the size the layers above settled
    model = _build(ModelConfig, [(f"--preset {name}", PRESETS[name]), (f"--recipe {recipe}", r["model"]),
                                 (cfg_where, doc.get("model", {})), ("flag", model_overrides or {})])
    defaults = {"batch_size": DEFAULT_BATCH[chosen]} if chosen in DEFAULT_BATCH else {}
    train = _build(TrainConfig, [("data set default", defaults), (f"--recipe {recipe}", r["train"]), (cfg_where, toml_train),
                                 ("flag", {**(train_overrides or {}), "dataset": chosen, "recipe": recipe})])
    given = {k: "flag" for k, v in (train_overrides or {}).items() if v is not None}
    refuse_idle_settings(train, {**{k: cfg_where for k in toml_train}, **given})
    return model, train


def _named(key: str, where: str) -> str:
    return flag(key) if where == "flag" else f"{where}: [train] {key}"


# Settings that only tune another one: (the tuning setting, whether it acts in this config, why not and the fix).
IDLE_WHEN: list[tuple[str, Any, str]] = [
    ("ema_kimg", lambda t: t.ema, "tunes the EMA generator, which is off; add --ema to keep one"),
    ("ema_rampup", lambda t: t.ema, "tunes the EMA generator, which is off; add --ema to keep one"),
    ("ema_decay", lambda t: t.ema, "tunes the EMA generator, which is off; add --ema to keep one"),
    ("ema_rampup", lambda t: t.ema_kimg is not None, "ramps a half-life given in images; add --ema-kimg K"),
    ("ema_decay", lambda t: t.ema_kimg is None, "is replaced by --ema-kimg (a half-life in images); give one of the two"),
    ("r1_every", lambda t: t.r1 > 0, "spaces the R1 penalty, which is off; add --r1 GAMMA"),
    ("eval_n", lambda t: t.eval_every != 0, "sizes the measurements, which --eval-every 0 turns off"),
    ("eval_metric", lambda t: t.eval_every != 0, "chooses the best of the measurements, which --eval-every 0 turns off"),
    ("eval_features", lambda t: t.eval_every != 0, "chooses the measurements' features, which --eval-every 0 turns off"),
]


def refuse_idle_settings(train: TrainConfig, given: dict[str, str]) -> None:
    """A setting the user gave that another setting makes do nothing is an error naming both, never ignored."""
    for key, acts, why in IDLE_WHEN:
        if key in given and not acts(train):
            if key.startswith("ema") and not train.ema and given.get("ema"):
                why = "tunes the EMA generator, which --no-ema turns off; drop one of the two"
            raise UsageError(f"{_named(key, given[key])} does nothing here: it {why}")


def resume_configs(
    stored_model: ModelConfig,
    stored_train: TrainConfig,
    model_overrides: dict[str, Any],
    train_overrides: dict[str, Any],
) -> TrainConfig:
    """Refuse changes that would make the resumed run differ from the stored one."""
    for k, v in model_overrides.items():
        if v is not None and getattr(stored_model, k) != v:
            raise UsageError(
                f"cannot change {flag(k)} on --resume (the run has {getattr(stored_model, k)!r},"
                f" you gave {v!r}); start a new run with --out"
            )
    changes = {}
    for k, v in train_overrides.items():
        if v is None or getattr(stored_train, k) == v:
            continue
        if k not in RESUMABLE:
            raise UsageError(
                f"cannot change {flag(k)} on --resume (the run has {getattr(stored_train, k)!r}, you gave {v!r}); "
                f"only {', '.join(flag(r) for r in sorted(RESUMABLE))} may change"
            )
        changes[k] = v
    try:
        return dataclasses.replace(stored_train, **changes)
    except ConfigError as e:
        raise UsageError(f"{flag(e.field)} {e.problem}") from None
