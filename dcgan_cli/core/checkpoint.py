"""The checkpoint format, both directions, and the one loader every command uses.

A checkpoint is a single `.safetensors` file: tensors for G, D, both Adam states and the RNG
states, plus one JSON metadata entry holding the format version, package version, model and
training configs, data set description, and the epoch/step counters. Nothing is pickled, and
nothing here calls `torch.load`. A file is validated whole before use (header, every metadata
field against its type, every tensor against the config), so a bad or doctored one gives a
one-line reason instead of a traceback. Paths stored in the metadata are only ever shown.
"""

from __future__ import annotations

import errno
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from .. import bundled
from .configs import ModelConfig, TrainConfig
from .files import TEMP_MARK, write_bytes
from .model import Discriminator, Generator
from .records import ConfigError, Record, is_int
from .runs import CHECKPOINT_NAME, CHECKPOINTS, RUNS_DIR, RunFolder
from .st_header import CheckpointError, read_header
from .version import VERSION

META_KEY = "dcgan_cli"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A validated checkpoint: configs and counters from the metadata, tensors by name."""

    path: Path
    model_config: ModelConfig
    train_config: TrainConfig
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor] = field(repr=False)
    dataset: DatasetRecord  # the validated meta["dataset"]

    @property
    def epoch(self) -> int:
        return int(self.meta.get("epoch", 0))

    @property
    def step(self) -> int:
        return int(self.meta.get("step", 0))

    @property
    def metrics(self) -> dict[str, float]:
        return self.meta.get("metrics", {})

    @property
    def run(self) -> RunFolder | None:
        """The run folder this file belongs to, or None for a file on its own."""
        return RunFolder.of_checkpoint(self.path)

    def state_dict(self, prefix: str) -> dict[str, torch.Tensor]:
        p = prefix + "/"
        return {k[len(p) :]: v for k, v in self.tensors.items() if k.startswith(p)}

    @property
    def has_ema(self) -> bool:
        return any(k.startswith("G_ema/") for k in self.tensors)

    def generator_name(self, ema: bool | None = None) -> str:
        """Which generator `generator(ema=ema)` returns, in words: "EMA generator" or "G"."""
        return "EMA generator" if (ema is not False and self.has_ema) else "G"

    def generator(self, device: torch.device | str = "cpu", ema: bool | None = None) -> Generator:
        """G in eval mode (batch norm uses its running statistics): the EMA generator when the
        checkpoint has one and `ema` is not False, else G."""
        if ema and not self.has_ema:
            raise CheckpointError(f"{self.path} holds no EMA generator (it was trained without --ema); leave --ema out")
        g = Generator(self.model_config)
        g.load_state_dict(self.state_dict("G_ema" if (ema is not False and self.has_ema) else "G"))
        return g.to(device).eval()

    def discriminator(self, device: torch.device | str = "cpu") -> Discriminator:
        d = Discriminator(self.model_config)
        d.load_state_dict(self.state_dict("D"))
        return d.to(device).eval()


# --- writing


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Write tensors + metadata atomically. `meta` must hold "model" (a ModelConfig dict)."""
    full_meta = {"format_version": FORMAT_VERSION, "package_version": VERSION, **meta}
    # safetensors wants contiguous CPU tensors; channels_last weights are not contiguous.
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = st_save(flat, metadata={META_KEY: json.dumps(full_meta, allow_nan=False)})
    return write_bytes(Path(path), data, what="checkpoint")


EXPORTED = ("format_version", "package_version", "model", "train", "dataset", "epoch", "step", "world_size", "metrics",
            "best")  # what a model written for others keeps of its run's metadata: no optimiser or RNG state, no run id


def export_model(c: Checkpoint, path: Path, *, ema: bool, provenance: dict[str, Any]) -> Path:
    """Write `c`'s networks as a model to hand out (the bundled models): G, D and, with `ema`, the EMA
    generator, which every command then draws with; no optimiser or RNG state, so it samples and
    analyses but does not resume; `provenance` says how it was made."""
    if ema and not c.has_ema:
        raise CheckpointError(f"{c.path} holds no EMA generator to export")
    keep = ("G/", "D/", "G_ema/") if ema else ("G/", "D/")
    tensors = {k: v for k, v in c.tensors.items() if k.startswith(keep)}
    meta = {k: c.meta[k] for k in EXPORTED if k in c.meta} | {"provenance": provenance}
    return save_checkpoint(path, tensors, meta)


# --- finding


def header_meta(path: Path) -> dict[str, Any]:
    """The dcgan-cli metadata of a file, or {} when it has none that reads."""
    try:
        meta = json.loads((read_header(path).get("__metadata__") or {})[META_KEY])
    except (CheckpointError, KeyError, TypeError, ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def checkpoint_step(path: Path) -> int:
    """The step a checkpoint holds: its metadata's (files get renamed), else its name's, else -1."""
    step = header_meta(path).get("step")
    if is_int(step):
        return step
    m = CHECKPOINT_NAME.fullmatch(path.name)
    return int(m.group(1)) if m else -1


def run_checkpoints(run: RunFolder) -> list[Path]:
    """The checkpoints this run wrote, lowest step first: files named as the loop names them
    (never a temp file or a user's own file) that carry the run's id, or, in a run from before
    ids, no id and the run's data set. A file copied in from another run is not one of them."""
    info = run.marker_info()
    rid, dataset = info.get("run_id"), info.get("dataset")
    found = []
    for p in run.checkpoint_files():
        if not CHECKPOINT_NAME.fullmatch(p.name):
            continue
        meta = header_meta(p)
        theirs = meta.get("run_id")
        ds = meta.get("train", {}).get("dataset") if isinstance(meta.get("train"), dict) else None
        ours = theirs == rid if rid else (theirs is None and (dataset is None or ds in (None, dataset)))
        if ours:
            step = meta.get("step")
            found.append((step if is_int(step) else int(CHECKPOINT_NAME.fullmatch(p.name).group(1)), p.name, p))
    return [p for _, _, p in sorted(found)]


def run_best(run: RunFolder) -> Path | None:
    """RUN/best.safetensors when the run kept one (--eval-every) and it carries the run's id."""
    rid, path = run.marker_info().get("run_id"), run.best
    return path if path.is_file() and not path.is_symlink() and rid and header_meta(path).get("run_id") == rid else None


def damaged_best(run: RunFolder) -> str | None:
    """Why the run's best.safetensors, there as a file, is not used (one line), or None when it is fine or absent."""
    path = run.best
    if not path.exists() or run_best(run) is not None:
        return None
    meta = header_meta(path)
    why = "is another run's" if meta.get("run_id") else "cannot be read (damaged or cut short)"
    return f"{path} {why}; the newest checkpoint serves instead"


def newest_checkpoint(runs_dir: Path) -> Path | None:
    """The newest run under runs_dir (by its latest checkpoint's time), and in it the highest step."""
    best: tuple[int, Path] | None = None
    for folder in sorted(Path(runs_dir).glob(f"*/{CHECKPOINTS}")):
        ckpts = run_checkpoints(RunFolder(folder.parent)) if folder.is_dir() else []
        if ckpts:
            t = max(p.stat().st_mtime_ns for p in ckpts)
            if best is None or t > best[0]:
                best = (t, ckpts[-1])
    return best[1] if best else None


def resolve_checkpoint(target: str | Path | None, runs_dir: str | Path = RUNS_DIR, best: bool = False) -> Path:
    """A file is itself; a run folder its highest step (`best`: its best.safetensors first); None the newest run;
    a word that is no path here, the bundled model of that name (dcgan_cli/bundled/)."""
    if target is None:
        root = Path(runs_dir)
        found = newest_checkpoint(root) if root.is_dir() else None
        if found is None:
            raise CheckpointError(f"no checkpoint found under ./{root}; train one with `dcgan train` or pass a checkpoint path")
        return found
    p = Path(target)
    try:
        st = p.stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise CheckpointError(f"checkpoint {p} is a symbolic link loop; point at the real file") from None
        if e.errno in (errno.EACCES, errno.EPERM):
            raise CheckpointError(f"checkpoint {p} cannot be read (permission denied)") from None
        found = bundled.path_of(str(target))
        if found is not None:  # not a path here, but the name of a model the package ships
            return found
        raise CheckpointError(f"checkpoint {p} does not exist; pass a .safetensors file, a run folder or "
                              f"{bundled.names_hint()}") from None
    if stat.S_ISDIR(st.st_mode):
        run = RunFolder(p)
        ckpts = run_checkpoints(run)
        if not ckpts:
            loose = sorted(x for x in p.glob("*.safetensors") if x.is_file() and TEMP_MARK not in x.name)
            if len(loose) == 1:
                return loose[0]
            others = len(run.checkpoint_files())
            why = f"; its {others} .safetensors file(s) are not this run's checkpoints (temps or copied in)" if others else ""
            shadowed = bundled.path_of(str(target))
            also = f" (a path that exists wins over a name: the bundled model {target} is {shadowed})" if shadowed else ""
            raise CheckpointError(f"{p} holds no checkpoint (looked for {run.checkpoints}/step-N.safetensors){why}; "
                                  f"pass a checkpoint file{also}")
        return (run_best(run) if best else None) or ckpts[-1]
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"checkpoint {p} is not a regular file (a pipe or device?); pass a .safetensors file")
    return p


# --- reading and validating


@dataclass(frozen=True)
class DatasetRecord(Record):
    """What a checkpoint says about its training data (its paths are only ever shown, never read)."""

    _what = "dataset"
    _strict = False
    name: str | None = None
    split: str | None = None
    root: str | None = None
    cache: str | None = None
    fingerprint: str | None = None
    size: int | None = None
    channels: int | None = None
    count: int | None = None
    label_names: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)

    def _checks(self) -> list[tuple[str, bool, str]]:
        return [(k, getattr(self, k) is None or getattr(self, k) >= 0, f"must be a whole number >= 0, got {getattr(self, k)!r}")
                for k in ("size", "channels", "count")]


@dataclass(frozen=True)
class BestRecord(Record):
    _what = "best"
    metric: str
    value: float
    step: int
    features: str | None = None  # the feature space of an FID or KID (domain, inception); absent before 0.1.1


@dataclass(frozen=True)
class CheckpointMeta(Record):
    """A checkpoint's metadata, every field checked before anything uses it."""

    _what = "metadata"
    _strict = False  # a newer writer may add fields; they are not read
    format_version: int
    model: ModelConfig
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: DatasetRecord = field(default_factory=DatasetRecord)
    package_version: str | None = None
    epoch: int = 0
    step: int = 0
    world_size: int = 1
    metrics: dict[str, float] = field(default_factory=dict)
    best: BestRecord | None = None
    scalers: dict | None = None
    opt_g_groups: list[dict] | None = None
    opt_d_groups: list[dict] | None = None
    run_id: str | None = None
    provenance: dict | None = None  # a bundled model's: how it was made and measured (scripts/train_models.py)

    def _checks(self) -> list[tuple[str, bool, str]]:
        return [
            ("epoch", 0 <= self.epoch < 2**62, f"must be a whole number >= 0, got {self.epoch!r}"),
            ("step", 0 <= self.step < 2**62, f"must be a whole number >= 0, got {self.step!r}"),
            ("world_size", 1 <= self.world_size <= 2**20, f"must be a whole number >= 1, got {self.world_size!r}"),
        ]


def validate_meta(path: Path, meta: Any) -> CheckpointMeta:
    """Check every metadata field against its type and range; the reason names the field."""
    if isinstance(meta, dict) and meta.get("best") == {}:
        meta = {k: v for k, v in meta.items() if k != "best"}  # written by versions that stored no best as {}
    try:
        record = CheckpointMeta.from_dict(meta)
    except (ConfigError, TypeError) as e:
        what = "it is not a JSON object" if not isinstance(meta, dict) else str(e)
        raise CheckpointError(f"{path} has invalid dcgan-cli metadata: {what}; "
                              "the file is damaged or was not written by dcgan-cli") from None
    return record


def load_checkpoint(target: str | Path | None = None, runs_dir: str | Path = RUNS_DIR) -> Checkpoint:
    """The one loader: resolve, validate the file and its metadata, check every tensor against the config."""
    path = resolve_checkpoint(target, runs_dir)
    header = read_header(path)
    raw_meta = (header.get("__metadata__") or {}).get(META_KEY)
    if raw_meta is None:
        raise CheckpointError(f"{path} is a safetensors file but not a dcgan-cli checkpoint (no '{META_KEY}' metadata)")
    try:
        meta = json.loads(raw_meta, parse_constant=_no_constants)
    except (json.JSONDecodeError, ValueError, RecursionError):
        raise CheckpointError(f"{path} has unreadable dcgan-cli metadata; the file is damaged") from None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    if not is_int(version) or version < 1:
        raise CheckpointError(f"{path} has unreadable dcgan-cli metadata (format_version {version!r}); the file is damaged")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer dcgan-cli (format {version}, this one reads up to {FORMAT_VERSION}); "
            "upgrade with `pip install -U dcgan-cli`"
        )
    record = validate_meta(path, meta)
    cfg, tcfg = record.model, record.train
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for damaged payloads
        raise CheckpointError(f"{path} could not be read as safetensors: {e}") from None
    _check_weights(path, cfg, tensors)
    return Checkpoint(path=path, model_config=cfg, train_config=tcfg, meta=meta, tensors=tensors, dataset=record.dataset)


def as_checkpoint(ckpt: Checkpoint | str | Path | None) -> Checkpoint:
    """Library entry points take a Checkpoint, a path, a run folder (its kept best first), or None (the newest run)."""
    return ckpt if isinstance(ckpt, Checkpoint) else load_checkpoint(resolve_checkpoint(ckpt, best=True))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_weights(path: Path, cfg: ModelConfig, tensors: dict[str, torch.Tensor]) -> None:
    with torch.device("meta"):
        g_state = Generator(cfg).state_dict()
        expected = {f"G/{k}": v for k, v in g_state.items()}
        expected |= {f"D/{k}": v for k, v in Discriminator(cfg).state_dict().items()}
        if any(k.startswith("G_ema/") for k in tensors):
            expected |= {f"G_ema/{k}": v for k, v in g_state.items()}
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k.split("/")[0] in ("G", "D", "G_ema") and k not in expected]
    if missing and unexpected:  # other layers than the config's: weights of another size or architecture
        raise CheckpointError(
            f"{path}: its weights are of another architecture than its stored config (size={cfg.size}, nc={cfg.nc}, "
            f"ngf={cfg.ngf}, ndf={cfg.ndf}): {missing[0]} is missing and {unexpected[0]} is not expected; the file was doctored"
        )
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise CheckpointError(f"{path} is missing tensors: {missing[0]}{more}; the file is incomplete")
    for k, ref in expected.items():
        if tensors[k].shape != ref.shape:
            raise CheckpointError(
                f"{path}: weights do not match the stored config: {k} has shape {tuple(tensors[k].shape)} "
                f"but size={cfg.size}, nc={cfg.nc}, ngf={cfg.ngf}, ndf={cfg.ndf} needs {tuple(ref.shape)}"
            )
        if tensors[k].dtype != ref.dtype:
            raise CheckpointError(f"{path}: {k} is stored as {tensors[k].dtype}, expected {ref.dtype}; the file is damaged")
    for k in expected:
        check_finite(path, k, tensors[k])


def check_finite(path: Path, name: str, t: torch.Tensor) -> None:
    """Weights that would draw black images or NaN metrics are refused by name, not used."""
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values; the weights are unusable "
                              "(a run that diverged, or a damaged file): use an earlier checkpoint")
    if name.endswith("running_var") and bool((t < 0).any()):
        raise CheckpointError(f"{path}: tensor {name} holds negative variances; the file is damaged or was doctored")
