"""The run settings: two frozen dataclasses, the presets, and how their layers are merged.

`ModelConfig` (what both networks and the latent prior are) and `TrainConfig` (how to train)
round-trip through checkpoint metadata. Every value is checked for its field's type and range
when a config is built, from flags, a TOML file or a stranger's checkpoint alike, so a bad value
is an error naming where it came from, never a silent default. Layers, lowest first: the data
set's default preset < --preset < TOML file < flags.

This module imports no torch: `dcgan --help` reads its choices from here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, TypeVar

from .records import Record

DATASETS = ("shapes", "mnist", "fashion-mnist", "svhn", "cifar10", "celeba", "lsun", "folder")
SPLITS = ("train", "test")
SIZES = (28, 32, 64, 128)
G_ACTIVATIONS = ("relu", "leaky_relu", "tanh")
D_ACTIVATIONS = ("leaky_relu", "relu", "tanh")
DOWNSAMPLE = ("strided", "pool")
PROJECTIONS = ("conv", "dense")
Z_DISTS = ("normal", "uniform")
PATH_METHODS = ("slerp", "lerp")  # interpolation paths
# The first is the default: it measures best (docs/measured.md).
ARITHMETIC_METHODS = ("guided", "anchored", "boundary", "paper", "mean")
FEATURES = ("inception", "domain")
EVAL_METRICS = ("fid", "kid", "recall")  # best.safetensors: lowest fid or kid, highest recall
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LOSSES = ("nonsaturating", "hinge")  # the GAN objective: Goodfellow et al.'s non-saturating form, or the hinge
LR_SCHEDULES = ("constant", "linear", "cosine")  # both learning rates, as a function of step / total steps
AUGMENTS = ("translation", "color", "cutout")  # DiffAugment (Zhao et al. 2020), on real and fake alike
RECIPE_NAMES = ("default", "paper")  # what each sets: core/recipes.py
# A run this long (a GPU run) may pass its best and get worse (StudioGAN's DCGAN on CIFAR-10 does after
# 42k steps), so without --eval-every it measures quality LONG_RUN_EVALS times and keeps the best.
LONG_RUN_STEPS = 20_000
LONG_RUN_EVALS = 20
# Snapshots (a checkpoint and a grid) come each epoch, but no oftener than every SNAP_KIMG thousand
# images: a small folder's epoch is a few steps, and a snapshot each would fill the disk.
SNAP_KIMG = 5

# Bounds on what a small input may ask for: beyond them a run needs more memory than any card has.
MAX_NZ = 65_536
MAX_WIDTH = 4_096

T = TypeVar("T", bound="Settings")

# The panels `dcgan train --help` groups its flags in, in this order.
DATA, MODEL, SCHEDULE, STABILISE, EVAL, SPEED, OUTPUT = (
    "Data", "Model", "Schedule", "Stabilisers", "Evaluation", "Scale and speed", "Output")
PANELS = (DATA, MODEL, SCHEDULE, STABILISE, EVAL, SPEED, OUTPUT)


def setting(default: Any, panel: str, help: str, *, choices: tuple[str, ...] | None = None) -> Any:
    """A config field that is also a `dcgan train` flag: its default, --help panel and text ({default} and the
    names recipes.flag_help fills in are filled in), and its choices. A field declared without it is set by a
    preset, a TOML file or the run itself, not by a flag of its own."""
    return dataclasses.field(default=default, metadata={"panel": panel, "help": help, "choices": choices})


def flag_fields(cls: type[Settings]) -> list[dataclasses.Field]:
    """The fields of a config that are flags, in declaration order."""
    return [f for f in dataclasses.fields(cls) if "help" in f.metadata]



class Settings(Record):
    """The run configs: strict Records (an unknown key is an error) whose problems name a flag."""


@dataclass(frozen=True)
class ModelConfig(Settings):
    """Everything needed to rebuild both networks and draw their latent vectors."""

    _what = "model settings"

    size: int = setting(64, DATA, "Image size: 28, 32, 64 or 128 (default: the preset's).")  # output height = width
    nc: int = 3  # image channels (the --channels option of a run: the data set's by default)
    nz: int = setting(100, MODEL, "Latent size (default {default}).")
    ngf: int = setting(64, MODEL, "Generator width at its last hidden stage (default: the preset's).")
    ndf: int = setting(64, MODEL, "Discriminator width at its first stage (default: the preset's).")
    g_act: str = setting("relu", MODEL, "G's hidden activation (default {default}).", choices=G_ACTIVATIONS)
    d_act: str = setting("leaky_relu", MODEL, "D's hidden activation (default {default}).", choices=D_ACTIVATIONS)
    batch_norm: bool = setting(True, MODEL, "Batch norm in G and D (default: on, as the paper; off in D with --spectral-norm).")
    # how D halves resolution: strided conv or conv + avg pool
    downsample: str = setting("strided", MODEL, "D's downsampling (default {default}).", choices=DOWNSAMPLE)
    projection: str = "conv"  # z -> first feature map: 1x1-input transposed conv, or Linear (presets and TOML only)
    kernel: int = 4  # 4 as in the paper, 5 as in the Keras MNIST/SVHN models (presets and TOML only)
    d_dropout: float = 0.0  # presets and TOML only
    # the prior belongs to G: sampling must draw what training drew
    z_dist: str = setting("normal", MODEL, "The latent prior (default {default}).", choices=Z_DISTS)
    z_scale: float = setting(1.0, MODEL, "Std of a normal z, half-width of a uniform z (default {default}).")
    # spectral normalisation of D's weights (Miyato et al. 2018); D then has no batch norm
    spectral_norm: bool = setting(False, MODEL, "Spectral normalisation in D, replacing its batch norm (default: off).")

    def _checks(self) -> list[tuple[str, bool, str]]:
        return [
            (
                "size",
                self.size in SIZES,
                f"{self.size} is not a size the model can make; use one of {', '.join(map(str, SIZES))}",
            ),
            ("nc", self.nc in (1, 3), f"must be 1 or 3 channels, got {self.nc}"),
            ("nz", 1 <= self.nz <= MAX_NZ, f"must be 1 to {MAX_NZ}, got {self.nz}"),
            ("ngf", 1 <= self.ngf <= MAX_WIDTH, f"must be 1 to {MAX_WIDTH}, got {self.ngf}"),
            ("ndf", 1 <= self.ndf <= MAX_WIDTH, f"must be 1 to {MAX_WIDTH}, got {self.ndf}"),
            ("g_act", self.g_act in G_ACTIVATIONS, f"must be one of {', '.join(G_ACTIVATIONS)}, got {self.g_act!r}"),
            ("d_act", self.d_act in D_ACTIVATIONS, f"must be one of {', '.join(D_ACTIVATIONS)}, got {self.d_act!r}"),
            ("downsample", self.downsample in DOWNSAMPLE, f"must be one of {', '.join(DOWNSAMPLE)}, got {self.downsample!r}"),
            ("projection", self.projection in PROJECTIONS, f"must be one of {', '.join(PROJECTIONS)}, got {self.projection!r}"),
            ("kernel", self.kernel in (4, 5), f"must be 4 or 5, got {self.kernel}"),
            ("d_dropout", 0.0 <= self.d_dropout < 1.0, f"must be in [0, 1), got {self.d_dropout}"),
            ("z_dist", self.z_dist in Z_DISTS, f"must be one of {', '.join(Z_DISTS)}, got {self.z_dist!r}"),
            # Far outside the prior G's init expects, tanh saturates and every image is blank.
            ("z_scale", 0 < self.z_scale <= 100, f"must be above 0 and at most 100, got {self.z_scale}"),
        ]

    @property
    def base(self) -> int:
        """Side of the first feature map: 28 = 7 * 2^2, every other size is 4 * 2^k."""
        return 7 if self.size == 28 else 4

    @property
    def n_up(self) -> int:
        """Number of 2x resolution changes between the base map and the image."""
        return int(math.log2(self.size // self.base))


@dataclass(frozen=True)
class TrainConfig(Settings):
    """How to train; stored in every checkpoint so that --resume continues the same run."""

    _what = "training settings"

    dataset: str = "shapes"  # the --dataset option of a run
    # None: as many as max_steps or the --kimg length needs
    epochs: int | None = setting(None, SCHEDULE, "Epochs in all (default: as many as the data set's --kimg needs).")
    max_steps: int | None = setting(None, SCHEDULE,
                                    "Train exactly this many steps in all (default: as many as --epochs or --kimg give).")
    batch_size: int = setting(128, SCHEDULE,
                              "Batch size (default: shapes {shapes_batch}, or {shapes_paper_batch} with --recipe paper; "
                              "else {default}).")
    lr: float = setting(2e-4, SCHEDULE, "Adam learning rate (default {default}).")
    beta1: float = setting(0.5, SCHEDULE, "Adam beta1 (default {default}).")
    beta2: float = setting(0.999, SCHEDULE, "Adam beta2 (default {default}).")
    g_steps: int = setting(1, SCHEDULE, "G updates per D update (default {default}).")
    seed: int = setting(0, SCHEDULE, "Seed for init, data order and z (default {default}).")
    keep: int = setting(3, OUTPUT, "Checkpoints kept in the run folder (default {default}).")
    log_every: int = setting(10, OUTPUT, "Write metrics (and, off a terminal, a progress line) every N steps "
                             "(default {default}).")
    # NHWC; None: with the precision auto chooses (on where bf16 is)
    channels_last: bool | None = setting(None, SPEED, "NHWC memory layout (default: on with the bf16 that --precision "
                                         "auto chooses).")
    limit: int | None = setting(None, DATA, "Train on the first N images only (default: all of them).")
    ema: bool = setting(False, STABILISE, "Keep an EMA generator beside G, used by every command when present "
                        "(default: off).")
    ema_decay: float = setting(0.999, STABILISE, "The EMA's decay per step (default {default}, warmed up).")
    # measure quality every N steps (and keep best.safetensors); 0: never; None: on long runs
    eval_every: int | None = setting(None, EVAL, "Measure FID, KID, precision and recall every N steps; keep "
                                     "best.safetensors, which sample, explore and the analyses then use (default: "
                                     "{long_run_evals} times in runs of {long_run_steps:,}+ steps; 0: never).")
    eval_n: int = setting(2048, EVAL, "Images per side for --eval-every (default {default}).")
    eval_features: str | None = setting(None, EVAL, "Feature space for --eval-every (default: domain for labelled data).",
                                        choices=FEATURES)
    eval_metric: str = setting("fid", EVAL, "What best.safetensors is best by (default {default}).", choices=EVAL_METRICS)
    # length in thousands of real images shown; None: the data set's default
    kimg: int | None = setting(None, SCHEDULE, "Thousands of images to train on (default: the recipe's or the data "
                               "set's: shapes {shapes_kimg}, MNIST {mnist_kimg}).")
    # D's learning rate (two time-scale update rule); None: lr
    d_lr: float | None = setting(None, STABILISE, "D's learning rate (default: --lr; another value is the two "
                                 "time-scale update rule).")
    label_smoothing: float = setting(0.0, STABILISE, "One-sided label smoothing: D's target for real images is 1 - this "
                                     "(default {default}: off).")
    # std of Gaussian noise on D's inputs (real and fake), annealed to 0 over the data set's DEFAULT_KIMG
    instance_noise: float = setting(0.0, STABILISE, "Std of Gaussian noise on D's inputs, annealed to 0 over the run "
                                    "(default {default}: off).")
    tensorboard: bool = setting(False, OUTPUT, "Also write TensorBoard events into RUN/tensorboard/ (default: off; "
                                "metrics.jsonl always).")
    # autocast; fp16 with gradient scaling, CUDA only
    precision: str = setting("auto", SPEED, "auto (default: bf16 autocast + channels_last where the device computes bf16 "
                             "natively, a CUDA card or a CPU with avx512_bf16 or AMX; fp32 elsewhere), fp32, bf16 "
                             "(autocast) or fp16 (autocast + gradient scaling, CUDA).", choices=PRECISIONS)
    precision_auto: str | None = None  # written by the run: what auto chose and why (None when precision was given)
    compile: bool = setting(False, SPEED, "torch.compile G and D: slow first steps, faster after (default: off).")
    sync_bn: bool = setting(False, SPEED, "Data-parallel runs on CUDA: batch-norm statistics over all processes "
                            "(default: off).")
    recipe: str | None = None  # the --recipe layer the run was built with (None: the settings alone)
    loss: str = setting("nonsaturating", SCHEDULE, "The GAN loss: nonsaturating (the paper's) or hinge (default: the "
                        "recipe's: {shapes_loss} on shapes, else {default}).", choices=LOSSES)
    d_beta1: float | None = setting(None, STABILISE, "D's Adam beta1 (default: --beta1).")
    d_beta2: float | None = setting(None, STABILISE, "D's Adam beta2 (default: --beta2).")
    # R1 penalty weight gamma (Mescheder et al. 2018) on real images
    r1: float = setting(0.0, STABILISE, "R1 penalty weight (gamma) on real images' gradient in D (default {default}: off).")
    # lazy R1: every k D steps, weighted by k (Karras et al. 2020)
    r1_every: int = setting(16, STABILISE, "Lazy R1: apply it every N steps, weighted by N (default {default}).")
    # EMA half-life in thousands of images (stylegan's ema_kimg); replaces ema_decay
    ema_kimg: float | None = setting(None, STABILISE, "The EMA's half-life in thousands of images, replacing "
                                     "--ema-decay (default: unset, --ema-decay holds).")
    ema_rampup: float | None = setting(None, STABILISE, "With --ema-kimg: the half-life is at most this share of the "
                                       "images shown so far (default: unset, no ramp).")
    augment: str = setting("", STABILISE, "DiffAugment on every image D sees, comma-separated: {augments} "
                           "(default '': off).")
    lr_schedule: str = setting("constant", SCHEDULE, "Both learning rates over the run: {default} (default), or decayed "
                               "to 0 (linear, cosine).", choices=LR_SCHEDULES)
    # checkpoint and grid every this many thousand images; None: each epoch, >= SNAP_KIMG
    snap_kimg: float | None = setting(None, OUTPUT, "A checkpoint and a sample grid every this many thousand images "
                                      "(default: each epoch, or whole epochs of at least {snap_kimg} thousand images on a "
                                      "small data set).")

    def _checks(self) -> list[tuple[str, bool, str]]:
        augments = [a for a in self.augment.split(",") if a]
        return [
            ("loss", self.loss in LOSSES, f"must be one of {', '.join(LOSSES)}, got {self.loss!r}"),
            ("recipe", self.recipe is None or self.recipe in RECIPE_NAMES,
             f"must be one of {', '.join(RECIPE_NAMES)}, got {self.recipe!r}"),
            ("d_beta1", self.d_beta1 is None or 0 <= self.d_beta1 < 1, f"must be in [0, 1), got {self.d_beta1}"),
            ("d_beta2", self.d_beta2 is None or 0 <= self.d_beta2 < 1, f"must be in [0, 1), got {self.d_beta2}"),
            ("r1", 0 <= self.r1 <= 1e4, f"must be 0 (off) to 10000, got {self.r1}"),
            ("r1_every", 1 <= self.r1_every <= 10_000, f"must be 1 to 10000, got {self.r1_every}"),
            ("ema_kimg", self.ema_kimg is None or 0 < self.ema_kimg <= 1e5,
             f"must be above 0 and at most 100000 (thousands of images), got {self.ema_kimg}"),
            ("snap_kimg", self.snap_kimg is None or 0 < self.snap_kimg <= 1e5,
             f"must be above 0 and at most 100000 (thousands of images), got {self.snap_kimg}"),
            ("ema_rampup", self.ema_rampup is None or 0 < self.ema_rampup <= 1, f"must be in (0, 1], got {self.ema_rampup}"),
            (
                "augment",
                all(a in AUGMENTS for a in augments) and len(set(augments)) == len(augments)
                and self.augment == ",".join(augments),
                f"must be a comma-separated list of {', '.join(AUGMENTS)} (each once), got {self.augment!r}",
            ),
            ("lr_schedule", self.lr_schedule in LR_SCHEDULES,
             f"must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"),
            ("precision", self.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}, got {self.precision!r}"),
            ("kimg", self.kimg is None or 1 <= self.kimg <= 10**7, f"must be at least 1, got {self.kimg}"),
            ("d_lr", self.d_lr is None or self.d_lr > 0, f"must be positive, got {self.d_lr}"),
            ("label_smoothing", 0 <= self.label_smoothing < 0.5, f"must be in [0, 0.5), got {self.label_smoothing}"),
            ("instance_noise", 0 <= self.instance_noise <= 2, f"must be 0 to 2, got {self.instance_noise}"),
            ("ema_decay", 0 < self.ema_decay < 1, f"must be between 0 and 1, got {self.ema_decay}"),
            ("eval_every", self.eval_every is None or self.eval_every >= 0, f"must be 0 (off) or more, got {self.eval_every}"),
            ("eval_n", 16 <= self.eval_n <= 200_000, f"must be 16 to 200,000, got {self.eval_n}"),
            (
                "eval_features",
                self.eval_features in (None, *FEATURES),
                f"must be one of {', '.join(FEATURES)}, got {self.eval_features!r}",
            ),
            (
                "eval_metric",
                self.eval_metric in EVAL_METRICS,
                f"must be one of {', '.join(EVAL_METRICS)}, got {self.eval_metric!r}",
            ),
            ("dataset", self.dataset in DATASETS, f"must be one of {', '.join(DATASETS)}, got {self.dataset!r}"),
            ("epochs", self.epochs is None or 1 <= self.epochs <= 10**9, f"must be at least 1, got {self.epochs}"),
            ("max_steps", self.max_steps is None or 1 <= self.max_steps <= 10**12, f"must be at least 1, got {self.max_steps}"),
            (
                "batch_size",
                2 <= self.batch_size <= 65_536,
                f"must be 2 to 65536 (batch norm needs a batch), got {self.batch_size}",
            ),
            ("lr", self.lr > 0, f"must be positive, got {self.lr}"),
            ("beta1", 0 <= self.beta1 < 1, f"must be in [0, 1), got {self.beta1}"),
            ("beta2", 0 <= self.beta2 < 1, f"must be in [0, 1), got {self.beta2}"),
            ("g_steps", 1 <= self.g_steps <= 100, f"must be 1 to 100, got {self.g_steps}"),
            ("seed", 0 <= self.seed < 2**63, f"must be 0 to 2^63-1, got {self.seed}"),
            ("keep", self.keep >= 1, f"must be at least 1, got {self.keep}"),
            ("log_every", self.log_every >= 1, f"must be at least 1, got {self.log_every}"),
            ("limit", self.limit is None or self.limit >= 1, f"must be at least 1, got {self.limit}"),
        ]

    def steps_per_epoch(self, n_images: int, world_size: int = 1) -> int:
        """Whole global batches in an epoch of `n_images` (--limit applied): a step of a data-parallel run
        takes batch_size images on each of world_size processes."""
        n = n_images if self.limit is None else min(self.limit, n_images)
        return n // (self.batch_size * world_size)

    def snapshot_steps(self, steps_per_epoch: int, world_size: int = 1) -> int:
        """Steps between snapshots: --snap-kimg's images, else an epoch of at least SNAP_KIMG thousand."""
        per_step = self.batch_size * world_size
        if self.snap_kimg is not None:
            return max(1, round(self.snap_kimg * 1000 / per_step))
        return max(1, steps_per_epoch * math.ceil(SNAP_KIMG * 1000 / max(1, steps_per_epoch * per_step)))

    def total_steps(self, steps_per_epoch: int, world_size: int = 1) -> int:
        """--max-steps alone trains exactly that many steps; --epochs alone whole epochs; both: the
        fewer. With neither, --kimg thousand images (default: the data set's, DEFAULT_KIMG), counted
        over all processes: a step of a data-parallel run shows batch_size x world_size images."""
        if self.max_steps is not None and self.epochs is None:
            return self.max_steps
        if self.epochs is None:
            kimg = self.kimg if self.kimg is not None else DEFAULT_KIMG[self.dataset]
            return max(1, math.ceil(kimg * 1000 / (self.batch_size * world_size)))
        by_epochs = self.epochs * steps_per_epoch
        return by_epochs if self.max_steps is None else min(self.max_steps, by_epochs)


# Presets are plain argument dicts (timm style), not classes.
PRESETS: dict[str, dict[str, Any]] = {
    # Radford et al. 2015, the LSUN/ImageNet/faces architecture.
    "paper64": dict(size=64, nc=3, ngf=64, ndf=64),
    # The same network as used for CelebA in pytorch/examples and the TensorFlow article.
    "celeba64": dict(size=64, nc=3, ngf=64, ndf=64),
    "celeba128": dict(size=128, nc=3, ngf=64, ndf=64),
    # The Keras tutorials' small models: dense projection, 5x5 kernels, dropout in D.
    "mnist28": dict(size=28, nc=1, ngf=64, ndf=64, projection="dense", kernel=5, d_dropout=0.3),
    "svhn32": dict(size=32, nc=3, ngf=64, ndf=64, projection="dense", kernel=5, d_dropout=0.3),
    "cifar32": dict(size=32, nc=3, ngf=64, ndf=64),
    # Small enough to learn the built-in shapes on a CPU; D narrower than G keeps it from winning outright.
    "shapes32": dict(size=32, nc=3, ngf=32, ndf=16),
}
# The paper's network for each size, used when --size asks for a size the data set's own preset
# does not make: a preset belongs to a size.
PRESET_FOR_SIZE = {28: "mnist28", 32: "cifar32", 64: "paper64", 128: "celeba128"}
# Default run length in thousands of real images shown (stylegan's kimg), per data set: long
# enough for the default preset to draw a diverse, recognisable set (benchmarks/quality.py).
DEFAULT_KIMG = {
    "shapes": 80,
    "mnist": 300,
    "fashion-mnist": 300,
    "svhn": 500,
    "cifar10": 1000,
    "celeba": 1000,
    "lsun": 2000,
    "folder": 500,
}
# Default batch size per data set, where it differs from 128 (benchmarks/quality.py; docs/measured.md).
DEFAULT_BATCH = {"shapes": 64}
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
# Settings that do not change the weights a run produces, so a resumed run may change them.
RESUMABLE = {
    "compile",
    "snap_kimg",
    "epochs",
    "max_steps",
    "kimg",
    "keep",
    "log_every",
    "eval_every",
    "eval_n",
    "eval_features",
    "eval_metric",
    "tensorboard",
}


def flag(field: str) -> str:
    return "--" + field.replace("_", "-")
