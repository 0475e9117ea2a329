"""`dcgan train`: its ~45 flags, in panels by topic, and the command that plans and runs the training.

Every model and schedule flag defaults to None, "not given": the data set's preset, the recipe, a
--config file and a resumed run's stored settings fill in the rest (configs.py merges them).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from ..core.configs import (
    AUGMENTS,
    D_ACTIVATIONS,
    DOWNSAMPLE,
    EVAL_METRICS,
    G_ACTIVATIONS,
    LOSSES,
    LR_SCHEDULES,
    PRECISIONS,
    PRESETS,
    RECIPE_NAMES,
    SNAP_KIMG,
    Z_DISTS,
    ModelConfig,
    TrainConfig,
)
from .common import Dataset, Device, Features, device
from .console import emit, follow, note, progress, training_reporter

M, T = ModelConfig, TrainConfig  # their class attributes are the defaults --help shows


def _flag(kind: type, panel: str, help: str, *names: str) -> object:
    return Annotated[kind | None, typer.Option(*names, help=help, show_default=False, rich_help_panel=panel)]


def _switch(name: str, panel: str, help: str) -> object:
    return _flag(bool, panel, help, f"--{name}/--no-{name}")


DATA, MODEL, SCHEDULE, STABILISE, EVAL, SPEED, OUTPUT = (
    "Data", "Model", "Schedule", "Stabilisers", "Evaluation", "Scale and speed", "Output")

TrainDataset = _flag(Dataset, DATA, f"The data set (default: {T.dataset}, built in).")
DataRoot = _flag(Path, DATA, "Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).")
Size = _flag(int, DATA, "Image size: 28, 32, 64 or 128 (default: the preset's).")
Channels = _flag(int, DATA, "1 (grey) or 3 (colour); default: the data set's.")
Limit = _flag(int, DATA, "Train on the first N images only (default: all of them).")
Download = Annotated[bool, typer.Option(help="Download the data set if it is missing (where its host allows).",
                                        rich_help_panel=DATA)]
CacheDir = _flag(Path, DATA, "Decoded-data cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).")

Preset = _flag(Literal[tuple(PRESETS)], MODEL, "Named architecture (default: the data set's).")  # type: ignore[valid-type]
Nz = _flag(int, MODEL, f"Latent size (default {M.nz}).")
Ngf = _flag(int, MODEL, "Generator width (default: the preset's, e.g. 64 for paper64).")
Ndf = _flag(int, MODEL, "Discriminator width (default: the preset's, e.g. 64 for paper64).")
GAct = _flag(Literal[G_ACTIVATIONS], MODEL, f"G's hidden activation (default {M.g_act}).")  # type: ignore[valid-type]
DAct = _flag(Literal[D_ACTIVATIONS], MODEL, f"D's hidden activation (default {M.d_act}).")  # type: ignore[valid-type]
BatchNorm = _switch("batch-norm", MODEL, "Batch norm in G and D (default: on, as the paper; off in D with --spectral-norm).")
Downsample = _flag(Literal[DOWNSAMPLE], MODEL, f"D's downsampling (default {M.downsample}).")  # type: ignore[valid-type]
ZDist = _flag(Literal[Z_DISTS], MODEL, f"The latent prior (default {M.z_dist}).")  # type: ignore[valid-type]
ZScale = _flag(float, MODEL, f"Std of a normal z, half-width of a uniform z (default {M.z_scale:g}).")
SpectralNorm = _switch("spectral-norm", MODEL, "Spectral normalisation in D, replacing its batch norm (default: off).")

Recipe = _flag(Literal[RECIPE_NAMES], SCHEDULE, (  # type: ignore[valid-type]
    "default: what measured best per minute for the data set's family (the run's first line says what it is); "
    "paper: Radford et al.'s procedure exactly (every stabiliser off)."))
Config = _flag(Path, SCHEDULE, "TOML file with \\[model] and \\[train] tables (default: none; flags win over it).", "--config")
Epochs = _flag(int, SCHEDULE, "Epochs in all (default: as many as the data set's --kimg needs, e.g. 10 for shapes).")
MaxSteps = _flag(int, SCHEDULE, "Train exactly this many steps in all (default: as many as --epochs or --kimg give).")
Kimg = _flag(int, SCHEDULE, "Thousands of images to train on (default: the recipe's or the data set's: shapes 70, MNIST 300).")
BatchSize = _flag(int, SCHEDULE, f"Batch size (default: shapes 32, or 64 with --recipe paper; else {T.batch_size}).")
Lr = _flag(float, SCHEDULE, f"Adam learning rate (default {T.lr:g}).")
Beta1 = _flag(float, SCHEDULE, f"Adam beta1 (default {T.beta1:g}).")
Beta2 = _flag(float, SCHEDULE, f"Adam beta2 (default {T.beta2:g}).")
Loss = _flag(Literal[LOSSES], SCHEDULE, "The GAN loss: nonsaturating (the paper's) or hinge (default: the "
    "recipe's: hinge on shapes, else nonsaturating).")  # type: ignore[valid-type]
LrSchedule = _flag(Literal[LR_SCHEDULES], SCHEDULE,  # type: ignore[valid-type]
                   "Both learning rates over the run: constant (default), or decayed to 0 (linear, cosine).")
GSteps = _flag(int, SCHEDULE, f"G updates per D update (default {T.g_steps}).")
Seed = _flag(int, SCHEDULE, f"Seed for init, data order and z (default {T.seed}).")

DLr = _flag(float, STABILISE, "D's learning rate (default: --lr; another value is the two time-scale update rule).")
DBeta1 = _flag(float, STABILISE, "D's Adam beta1 (default: --beta1).")
DBeta2 = _flag(float, STABILISE, "D's Adam beta2 (default: --beta2).")
R1 = _flag(float, STABILISE, "R1 penalty weight (gamma) on real images' gradient in D (default 0: off).")
R1Every = _flag(int, STABILISE, f"Lazy R1: apply it every N steps, weighted by N (default {T.r1_every}).")
Augment = _flag(str, STABILISE, f"DiffAugment on every image D sees, comma-separated: {','.join(AUGMENTS)} (default '': off).")
LabelSmoothing = _flag(float, STABILISE, "One-sided label smoothing: D's target for real images is 1 - this (default 0: off).")
InstanceNoise = _flag(float, STABILISE, "Std of Gaussian noise on D's inputs, annealed to 0 over the run (default 0: off).")
Ema = _switch("ema", STABILISE, "Keep an EMA generator beside G, used by every command when present (default: off).")
EmaDecay = _flag(float, STABILISE, f"The EMA's decay per step (default {T.ema_decay:g}, warmed up).")
EmaKimg = _flag(float, STABILISE, "The EMA's half-life in thousands of images, replacing "
    "--ema-decay (default: unset, --ema-decay holds).")
EmaRampup = _flag(float, STABILISE, "With --ema-kimg: the half-life is at most this share of the "
    "images shown so far (default: unset, no ramp).")

EvalEvery = _flag(int, EVAL, "Measure FID, KID, precision and recall every N steps; keep best.safetensors, which "
                  "sample, explore and the analyses then use (default: 20 times in runs of 20,000+ steps; 0: never).")
EvalN = _flag(int, EVAL, f"Images per side for --eval-every (default {T.eval_n}).")
EvalFeatures = _flag(Features, EVAL, "Feature space for --eval-every (default: domain for labelled data).")
EvalMetric = _flag(Literal[EVAL_METRICS], EVAL, f"What best.safetensors is best by (default {T.eval_metric}).")  # type: ignore

Nproc = _flag(int, SPEED, "Train in N data-parallel processes on this machine, torchrun's launcher, one per GPU (default 1).")
SyncBn = _switch("sync-bn", SPEED, "Data-parallel runs on CUDA: batch-norm statistics over all processes (default: off).")
Precision = _flag(Literal[PRECISIONS], SPEED, (  # type: ignore[valid-type]
    "auto (default: bf16 autocast + channels_last where the device computes bf16 natively, a CUDA card or a CPU with "
    "avx512_bf16 or AMX; fp32 elsewhere), fp32, bf16 (autocast) or fp16 (autocast + gradient scaling, CUDA)."))
Compile = _switch("compile", SPEED, "torch.compile G and D: slow first steps, faster after (default: off).")
ChannelsLast = _switch("channels-last", SPEED, "NHWC memory layout (default: on with the bf16 that --precision auto chooses).")

OutDir = _flag(Path, OUTPUT, "Run folder (default runs/<dataset>-<size>-<time>).", "--out")
Resume = _flag(Path, OUTPUT, "Run folder or checkpoint to continue exactly (default: a new run).")
SnapKimg = _flag(float, OUTPUT, "A checkpoint and a sample grid every this many thousand images (default: each epoch, "
                 f"or whole epochs of at least {SNAP_KIMG} thousand images on a small data set).")
Keep = _flag(int, OUTPUT, f"Checkpoints kept in the run folder (default {T.keep}).")
LogEvery = _flag(int, OUTPUT, f"Write metrics (and, off a terminal, a progress line) every N steps (default {T.log_every}).")
Tensorboard = _switch("tensorboard", OUTPUT, "Also write TensorBoard events into RUN/tensorboard/ "
    "(default: off; metrics.jsonl always).")


def train(
    dataset: TrainDataset = None, data_root: DataRoot = None, size: Size = None, channels: Channels = None,
    limit: Limit = None, download: Download = False, cache_dir: CacheDir = None,
    preset: Preset = None, nz: Nz = None, ngf: Ngf = None, ndf: Ndf = None, g_act: GAct = None, d_act: DAct = None,
    batch_norm: BatchNorm = None, downsample: Downsample = None, z_dist: ZDist = None, z_scale: ZScale = None,
    spectral_norm: SpectralNorm = None,
    recipe: Recipe = None, config: Config = None, epochs: Epochs = None, max_steps: MaxSteps = None, kimg: Kimg = None,
    batch_size: BatchSize = None, lr: Lr = None, beta1: Beta1 = None, beta2: Beta2 = None, loss: Loss = None,
    lr_schedule: LrSchedule = None, g_steps: GSteps = None, seed: Seed = None,
    d_lr: DLr = None, d_beta1: DBeta1 = None, d_beta2: DBeta2 = None, r1: R1 = None, r1_every: R1Every = None,
    augment: Augment = None, label_smoothing: LabelSmoothing = None, instance_noise: InstanceNoise = None, ema: Ema = None,
    ema_decay: EmaDecay = None, ema_kimg: EmaKimg = None, ema_rampup: EmaRampup = None,
    eval_every: EvalEvery = None, eval_n: EvalN = None, eval_features: EvalFeatures = None, eval_metric: EvalMetric = None,
    nproc: Nproc = None, sync_bn: SyncBn = None, precision: Precision = None, compile_: Compile = None,
    channels_last: ChannelsLast = None,
    out_dir: OutDir = None, resume: Resume = None, snap_kimg: SnapKimg = None, keep: Keep = None, log_every: LogEvery = None,
    tensorboard: Tensorboard = None, device_name: Device = "auto",
):
    """Train a DCGAN. Example: dcgan train --dataset shapes --max-steps 800 --out runs/demo

    Many GPUs or nodes: torchrun --nproc-per-node N -m dcgan_cli train ... (or --nproc N here)."""
    from ..training import distributed
    from ..training.session import TrainingSession

    if nproc is not None:
        device(device_name)  # a device this machine lacks: one line here, not one from every process
        raise typer.Exit(distributed.launch(nproc, sys.argv))
    # Each setting by name, so a flag's trail to the config it sets reads in one place.
    model = dict(size=size, nz=nz, ngf=ngf, ndf=ndf, g_act=g_act, d_act=d_act, batch_norm=batch_norm, downsample=downsample,
                 z_dist=z_dist, z_scale=z_scale, spectral_norm=spectral_norm)
    settings = dict(epochs=epochs, max_steps=max_steps, kimg=kimg, batch_size=batch_size, lr=lr, beta1=beta1, beta2=beta2,
                    loss=loss, lr_schedule=lr_schedule, g_steps=g_steps, seed=seed, d_lr=d_lr, d_beta1=d_beta1,
                    d_beta2=d_beta2, r1=r1, r1_every=r1_every, augment=augment, label_smoothing=label_smoothing,
                    instance_noise=instance_noise, ema=ema, ema_decay=ema_decay, ema_kimg=ema_kimg, ema_rampup=ema_rampup,
                    eval_every=eval_every, eval_n=eval_n, eval_features=eval_features,
                    eval_metric=eval_metric, sync_bn=sync_bn, precision=precision, compile=compile_,
                    channels_last=channels_last, snap_kimg=snap_kimg, keep=keep, log_every=log_every, tensorboard=tensorboard,
                    limit=limit)
    with TrainingSession(device(device_name), on_note=note) as session:
        if not session.world.main:
            follow(session.world.rank)
        with progress("preparing data") as bar:
            session.plan(dataset=dataset, preset=preset, recipe=recipe, config_file=config, out=out_dir, resume=resume,
                                data_root=data_root, cache_dir=cache_dir, download=download, channels=channels,
                                model=model, train=settings, on_progress=bar)
        try:
            with progress("training") as bar:
                result = session.run(on_step=training_reporter(bar))
        except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint of this step
            note(session.abort_note())
            raise typer.Exit(130) from None
        if session.world.main:
            emit(result, to_stderr=result.interrupted)
    raise typer.Exit(result.exit_code)
