"""The `dcgan` command line: thin Typer commands over the library's entry points.

Each command parses options, calls one library function and prints. Errors the user can fix
arrive as DcganError and leave as one line on stderr with exit code 2 (usage) or 1 (failure);
so do Typer's own usage errors. Only this module and console.py print. Nothing heavier than
Typer is imported until a command runs, so `--help` starts in a fraction of a second.

Conventions shared by every command:
- the checkpoint (a .safetensors file or a run folder) is the first argument; with none, the
  newest run under ./runs;
- `--seeds 0-63` or `--seeds 3,7,9` names the samples; `--n N` is short for seeds 0..N-1;
- with no `--out`, outputs go into the run folder, `RUN/<command>/step-N-<parameters>.png`.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from pathlib import Path
from typing import Annotated, Literal

import typer
from typer.core import TyperGroup

from . import __version__
from .configs import ARITHMETIC_METHODS, D_ACTIVATIONS, DATASETS, DOWNSAMPLE, EVAL_METRICS, FEATURES, G_ACTIVATIONS, METHODS, PRECISIONS, PRESETS, RECIPES, SPLITS, Z_DISTS
from .console import err, error_prefix, follow, note, out, progress, say, training_line
from .errors import DcganError, UsageError
from .files import check_file_target


class OneLineErrors(TyperGroup):
    """Typer's own usage errors (a bad choice, a missing value) as one line, like ours, exit code 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        from typer import _click
        from typer.exceptions import Abort

        try:
            rv = super().main(*args, standalone_mode=False, **kwargs)
        except _click.exceptions.ClickException as e:
            if not standalone_mode:
                raise
            if type(e).__name__ != "NoArgsIsHelpError":  # that one has printed the help already
                ctx = getattr(e, "ctx", None)
                hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
                _print_error(f"{e.format_message().replace('Value error, ', '')}{hint}")
            sys.exit(e.exit_code)
        except Abort:
            if not standalone_mode:
                raise
            note("aborted")
            sys.exit(130)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


app = typer.Typer(
    cls=OneLineErrors,
    name="dcgan",
    help="Train Deep Convolutional GANs (Radford et al., 2015) and explore what they learned.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
)
data_app = typer.Typer(help="Prepare and list the decoded-once data caches.", no_args_is_help=True)
app.add_typer(data_app, name="data")

# Choices as Literal types: --help lists them and shell completion offers them.
Dataset = Literal[DATASETS]  # type: ignore[valid-type]
Preset = Literal[tuple(PRESETS)]  # type: ignore[valid-type]
GAct = Literal[G_ACTIVATIONS]  # type: ignore[valid-type]
DAct = Literal[D_ACTIVATIONS]  # type: ignore[valid-type]
Down = Literal[DOWNSAMPLE]  # type: ignore[valid-type]
ZDist = Literal[Z_DISTS]  # type: ignore[valid-type]
Split = Literal[SPLITS]  # type: ignore[valid-type]
Method = Literal[METHODS]  # type: ignore[valid-type]
ArithMethod = Literal[ARITHMETIC_METHODS]  # type: ignore[valid-type]
Features = Literal[FEATURES]  # type: ignore[valid-type]
EvalMetric = Literal[EVAL_METRICS]  # type: ignore[valid-type]
Format = Literal["grid", "png", "npz"]
Recipe = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]

DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")]
CkptArg = Annotated[Path | None, typer.Argument(help="Checkpoint file or run folder; default: the newest run under ./runs.", show_default=False)]
NOpt = Annotated[int | None, typer.Option("--n", help="Images from seeds 0..N-1 (short for --seeds 0-(N-1)).", show_default=False)]
SeedsOpt = Annotated[str | None, typer.Option("--seeds", help="Seeds: a range 0-63, a list 3,7,9, or both. Not with --n.", show_default=False)]
OutOpt = Annotated[Path | None, typer.Option("--out", help="File to write (default: in the run folder, named by the parameters).", show_default=False)]
CacheOpt = Annotated[Path | None, typer.Option(help="Decoded-data cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).", show_default=False)]
EmaOpt = Annotated[bool | None, typer.Option("--ema/--no-ema", help="Use the EMA generator (default: when the checkpoint has one).", show_default=False)]
RootOpt = Annotated[Path | None, typer.Option(help="Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).", show_default=False)]


def cli_errors(fn):
    """Turn DcganError (and OS errors such as a full disk) into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DcganError as e:
            _fail(str(e), e.exit_code)
        except MemoryError:
            _fail("ran out of memory; ask for fewer or smaller images, or a smaller --batch-size", 1)
        except OSError as e:
            where = f" {e.filename}" if getattr(e, "filename", None) else ""
            _fail(f"{e.strerror or e}{':' + where if where else ''}", 1)

    return wrapper


def _print_error(message: str) -> None:
    err.print(f"{error_prefix()}error: {message}", markup=False, highlight=False, soft_wrap=True)


def _fail(message: str, code: int):
    _print_error(message)
    raise typer.Exit(code)


def _checkpoint(ckpt: Path | None):
    from .checkpoint import load_checkpoint

    return load_checkpoint(ckpt)


def _device(name: str):
    from .device import select_device

    return select_device(name)


# --- train


@app.command()
@cli_errors
def train(
    dataset: Annotated[Dataset | None, typer.Option(help="The data set (default: shapes, built in).", show_default=False)] = None,
    data_root: RootOpt = None,
    size: Annotated[int | None, typer.Option(help="Image size: 28, 32, 64 or 128 (default: the preset's).", show_default=False)] = None,
    channels: Annotated[int | None, typer.Option(help="1 (grey) or 3 (colour); default: the data set's.", show_default=False)] = None,
    preset: Annotated[Preset | None, typer.Option(help="Named architecture (default: the data set's).", show_default=False)] = None,
    recipe: Annotated[Recipe | None, typer.Option(help="paper: Radford et al.'s procedure exactly (every stabiliser off).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with \\[model] and \\[train] tables.", show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs in all (default 5, or as many as --max-steps needs).", show_default=False)] = None,
    max_steps: Annotated[int | None, typer.Option(help="Train exactly this many steps in all.", show_default=False)] = None,
    kimg: Annotated[int | None, typer.Option(help="Train on this many thousand images (default: the data set's, e.g. shapes 80).", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default 128).", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (default 2e-4).", show_default=False)] = None,
    beta1: Annotated[float | None, typer.Option(help="Adam beta1 (default 0.5).", show_default=False)] = None,
    d_lr: Annotated[float | None, typer.Option(help="D's learning rate, if not --lr (two time-scale update rule).", show_default=False)] = None,
    label_smoothing: Annotated[float | None, typer.Option(help="One-sided label smoothing: D's target for real images is 1 - this.", show_default=False)] = None,
    instance_noise: Annotated[float | None, typer.Option(help="Std of Gaussian noise on D's inputs, annealed to 0 over the run.", show_default=False)] = None,
    spectral_norm: Annotated[bool | None, typer.Option("--spectral-norm/--no-spectral-norm", help="Spectral normalisation in D (replaces its batch norm).", show_default=False)] = None,
    g_steps: Annotated[int | None, typer.Option(help="G updates per D update (default 1).", show_default=False)] = None,
    z_dist: Annotated[ZDist | None, typer.Option(help="The latent prior (default normal).", show_default=False)] = None,
    z_scale: Annotated[float | None, typer.Option(help="Std of a normal z, half-width of a uniform z.", show_default=False)] = None,
    nz: Annotated[int | None, typer.Option(help="Latent size (default 100).", show_default=False)] = None,
    ngf: Annotated[int | None, typer.Option(help="Generator width.", show_default=False)] = None,
    ndf: Annotated[int | None, typer.Option(help="Discriminator width.", show_default=False)] = None,
    g_act: Annotated[GAct | None, typer.Option(help="G's hidden activation (default relu).", show_default=False)] = None,
    d_act: Annotated[DAct | None, typer.Option(help="D's hidden activation (default leaky_relu).", show_default=False)] = None,
    batch_norm: Annotated[bool | None, typer.Option("--batch-norm/--no-batch-norm", help="Batch norm in G and D.", show_default=False)] = None,
    downsample: Annotated[Down | None, typer.Option(help="D's downsampling (default strided).", show_default=False)] = None,
    channels_last: Annotated[bool | None, typer.Option("--channels-last/--no-channels-last", help="NHWC memory layout.", show_default=False)] = None,
    precision: Annotated[Precision | None, typer.Option(help="fp32 (default), bf16 (autocast) or fp16 (autocast + gradient scaling, CUDA).", show_default=False)] = None,
    compile_: Annotated[bool | None, typer.Option("--compile/--no-compile", help="torch.compile G and D (slow first steps, faster after).", show_default=False)] = None,
    nproc: Annotated[int | None, typer.Option(help="Train in N data-parallel processes on this machine (torchrun's launcher; one per GPU).", show_default=False)] = None,
    sync_bn: Annotated[bool | None, typer.Option("--sync-bn/--no-sync-bn", help="Data-parallel runs on CUDA: batch-norm statistics over all processes.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for init, data order and z (default 0).", show_default=False)] = None,
    limit: Annotated[int | None, typer.Option(help="Train on the first N images only.", show_default=False)] = None,
    log_every: Annotated[int | None, typer.Option(help="Write metrics (and, off a terminal, a progress line) every N steps (default 10).", show_default=False)] = None,
    keep: Annotated[int | None, typer.Option(help="Checkpoints kept in the run folder (default 3).", show_default=False)] = None,
    ema: Annotated[bool | None, typer.Option("--ema/--no-ema", help="Keep an EMA generator beside G (used by every command when present).", show_default=False)] = None,
    ema_decay: Annotated[float | None, typer.Option(help="The EMA's decay per step (default 0.999, warmed up).", show_default=False)] = None,
    eval_every: Annotated[int | None, typer.Option(help="Measure FID, KID, precision and recall every N steps; keep best.safetensors.", show_default=False)] = None,
    eval_n: Annotated[int | None, typer.Option(help="Images per side for --eval-every (default 2048).", show_default=False)] = None,
    eval_features: Annotated[Features | None, typer.Option(help="Feature space for --eval-every (default: domain for labelled data).", show_default=False)] = None,
    eval_metric: Annotated[EvalMetric | None, typer.Option(help="What best.safetensors is best by (default fid).", show_default=False)] = None,
    tensorboard: Annotated[bool | None, typer.Option("--tensorboard/--no-tensorboard", help="Also write TensorBoard events into RUN/tensorboard/.", show_default=False)] = None,
    device: DeviceOpt = "auto",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Run folder (default runs/<dataset>-<size>-<time>).", show_default=False)] = None,
    resume: Annotated[Path | None, typer.Option(help="Run folder or checkpoint to continue exactly.", show_default=False)] = None,
    download: Annotated[bool, typer.Option(help="Download the data set if it is missing (where its host allows).")] = False,
    cache_dir: CacheOpt = None,
):
    """Train a DCGAN. Example: dcgan train --dataset shapes --max-steps 800 --out runs/demo

    Many GPUs or nodes: torchrun --nproc-per-node N -m dcgan_cli train ... (or --nproc N here)."""
    from .training import distributed

    if nproc is not None:
        raise typer.Exit(distributed.launch(nproc, sys.argv))
    world, dev = distributed.start(_device(device))
    if not world.main:
        follow(world.rank)
    try:
        from .training import plan_run
        from .training import train as run_plan

        with progress("preparing data") as bar:
            plan = plan_run(
                dataset=dataset, preset=preset, recipe=recipe, config_file=config, out=out_dir, resume=resume, data_root=data_root,
                cache_dir=cache_dir, download=download, channels=channels, on_progress=bar,
                model=dict(size=size, nz=nz, ngf=ngf, ndf=ndf, g_act=g_act, d_act=d_act, batch_norm=batch_norm,
                           downsample=downsample, z_dist=z_dist, z_scale=z_scale, spectral_norm=spectral_norm),
                train=dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, beta1=beta1, g_steps=g_steps,
                           seed=seed, channels_last=channels_last, limit=limit, log_every=log_every, keep=keep, ema=ema,
                           ema_decay=ema_decay, eval_every=eval_every, eval_n=eval_n, eval_features=eval_features,
                           eval_metric=eval_metric, kimg=kimg, d_lr=d_lr, label_smoothing=label_smoothing,
                           instance_noise=instance_noise, tensorboard=tensorboard, precision=precision, compile=compile_,
                           sync_bn=sync_bn),
                world=world,
            )
        for line in plan.notes:
            note(f"note: {line}")
        procs = f" in {world.size} processes (global batch {plan.global_batch} = {world.size} x {plan.train.batch_size})" if world.active else ""
        note(f"training {plan.train.dataset} {plan.model.size}px x{plan.model.nc} ({plan.data.images.shape[0]} images) "
             f"for {plan.total_steps} steps on {dev}{procs} into {plan.run.path}")

        stop = {"asked": False}

        def on_signal(signum, frame):
            if stop["asked"] and world.active:
                return  # torchrun passes the terminal's Ctrl-C on again: the ranks are already saving together
            if stop["asked"]:
                note("second interrupt: aborting without saving")
                raise KeyboardInterrupt
            stop["asked"] = True
            name = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
            note(f"stopping ({name}): saving a checkpoint after this step (Ctrl-C again to abort without saving)")

        handlers = {}
        if threading.current_thread() is threading.main_thread():
            handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            with progress("training") as bar:

                def on_step(s: dict) -> None:
                    bar.update(s["step"], s["total_steps"], training_line(s), line=s["logged"] or s["step"] == s["total_steps"])
                    for w in s.get("warnings") or []:
                        note(f"warning: {w}")
                    if s.get("eval"):
                        note(f"step {s['step']}: " + ", ".join(f"{k} {v:.4g}" for k, v in s["eval"].items())
                             + (f" (best {s['best']['metric']} {s['best']['value']:.4g} at step {s['best']['step']})" if s.get("best") else ""))

                result = run_plan(plan, device=dev, on_step=on_step, should_stop=lambda: stop["asked"])
        except KeyboardInterrupt:
            note("aborted without saving; the last epoch checkpoint is kept")
            raise typer.Exit(130) from None
        finally:
            for s, h in handlers.items():
                signal.signal(s, h)
        if result.interrupted:
            note(f"interrupted at step {result.step}; checkpoint {result.checkpoint}")
            note(f"resume with: dcgan train --resume {plan.run.path}")
            raise typer.Exit(130)
        if world.main:
            say(f"done: step {result.step}, epoch {result.epoch}; checkpoint {result.checkpoint}")
            from .evaluation.evaluate import real_subset
            from .training.plots import plot_run

            drawn = plot_run(plan.run.path, real_u8=real_subset(plan.data, 64))
            made = [str(v) for v in drawn.values() if isinstance(v, Path)]
            if made:
                say(f"pictures: {', '.join(made)}")
    finally:
        distributed.stop()


# --- sample, interpolate, info


@app.command()
@cli_errors
def sample(
    ckpt: CkptArg = None,
    n: NOpt = None,
    seeds: SeedsOpt = None,
    out_path: OutOpt = None,
    individual: Annotated[Path | None, typer.Option(help="Also write each image to this folder as seed-N.png.", show_default=False)] = None,
    nrow: Annotated[int | None, typer.Option(help="Images per grid row (default: square).", show_default=False)] = None,
    fmt: Annotated[Format, typer.Option("--format", help="grid: one picture; png: a folder of seed-N.png; npz: one array file (for external tools).")] = "grid",
    ema: EmaOpt = None,
    device: DeviceOpt = "auto",
):
    """Generate images, each from its own seed (default seeds 0-63). Example: dcgan sample runs/demo --seeds 0-15"""
    from .analysis.sample import resolve_seeds, seeds_label, write_samples
    from .images import check_folder_path, check_image_path, save_individual
    from .runs import output_path

    seed_list = resolve_seeds(n, seeds, 64)
    if out_path is not None:
        if fmt == "grid":
            check_image_path(out_path)
        elif fmt == "png":
            check_folder_path(out_path, "--out")
        elif out_path.suffix.lower() != ".npz" or out_path.is_dir():
            raise UsageError(f"--out {out_path}: --format npz writes one .npz file; give a name ending in .npz")
    if individual is not None:
        check_folder_path(individual, "--individual")
    if nrow is not None and nrow < 1:
        raise UsageError(f"--nrow must be at least 1, got {nrow}")
    c = _checkpoint(ckpt)
    name = f"seeds-{seeds_label(seed_list)}" + {"grid": ".png", "png": "", "npz": ".npz"}[fmt]
    target = out_path or output_path(c.path, c.step, "sample", name)
    with progress("generating") as bar:
        write_samples(c, seed_list, target, fmt, nrow=nrow, ema=ema, device=_device(device), on_progress=bar)
    if individual is not None:
        from .analysis.sample import sample as draw

        save_individual(draw(c, seed_list, ema=ema, device=_device(device)), individual, [f"seed-{s}.png" for s in seed_list])
    which = "EMA generator" if (ema is not False and c.has_ema) else "G"
    say(f"wrote {target} ({len(seed_list)} images from {c.path}, {which})")


@app.command()
@cli_errors
def info(
    ckpt: CkptArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show what a checkpoint holds: model, training settings, data set, progress."""
    from rich.table import Table

    from .files import to_json

    c = _checkpoint(ckpt)
    summary = {
        "path": str(c.path), "format_version": c.meta["format_version"], "package_version": c.meta.get("package_version"),
        "epoch": c.epoch, "step": c.step, "generator": "EMA (G_ema) and G" if c.has_ema else "G", "best": c.meta.get("best"),
        "model": c.model_config.to_dict(), "train": c.train_config.to_dict(),
        "dataset": c.dataset, "metrics": c.metrics, "run": str(c.run.path) if c.run else None,
        "tensors": len(c.tensors), "parameters": {p: sum(v.numel() for v in c.state_dict(p).values()) for p in ("G", "D")},
    }
    if as_json:
        print(to_json(summary))
        return
    table = Table(title=str(c.path), show_header=False)
    for key in ("format_version", "package_version", "epoch", "step", "generator", "best", "parameters", "run"):
        table.add_row(key, str(summary[key]))
    for section in ("model", "train", "dataset", "metrics"):
        table.add_row(f"[bold]{section}", ", ".join(f"{k}={v}" for k, v in summary[section].items() if k not in ("label_names", "groups")))
    if c.dataset.get("label_names"):
        table.add_row("labels", ", ".join(c.dataset["label_names"]))
    out.print(table)


@app.command()
@cli_errors
def interpolate(
    ckpt: CkptArg = None,
    steps: Annotated[int, typer.Option(help="Frames per path, ends included.")] = 9,
    from_seed: Annotated[int, typer.Option("--from", help="Seed of the first end.")] = 0,
    to_seed: Annotated[int, typer.Option("--to", help="Seed of the last end.")] = 1,
    rows: Annotated[int, typer.Option(help="Independent rows; row i runs from seed FROM+2i to TO+2i.")] = 1,
    through: Annotated[str | None, typer.Option(help="One path through several seeds, e.g. 3,8,12,3 (loops).", show_default=False)] = None,
    method: Annotated[Method | None, typer.Option(help="Path (default: slerp for normal z, lerp for uniform z).", show_default=False)] = None,
    out_path: OutOpt = None,
    gif: Annotated[Path | None, typer.Option(help="Also write an animated GIF.", show_default=False)] = None,
    ema: EmaOpt = None,
    device: DeviceOpt = "auto",
):
    """Walk through latent space between seeds. Example: dcgan interpolate runs/demo --steps 9 --rows 4 --gif walk.gif"""
    from .analysis.latent import interpolate as walk
    from .analysis.sample import MAX_SEED, parse_seeds, seeds_label
    from .images import check_image_path, grid_image, save_gif, save_grid
    from .runs import output_path

    if out_path is not None:
        check_image_path(out_path)
    if gif is not None:
        check_image_path(gif, "--gif", (".gif",))
    if not 1 <= rows <= 1000:
        raise UsageError(f"--rows must be 1 to 1000, got {rows}")
    if through is None and not (0 <= from_seed and 0 <= to_seed and max(from_seed, to_seed) + 2 * rows <= MAX_SEED):
        raise UsageError("--from and --to must be seeds from 0 to 2^63-1")
    c = _checkpoint(ckpt)
    pairs = None if through is not None else [(from_seed + 2 * i, to_seed + 2 * i) for i in range(rows)]
    path = parse_seeds(through, "--through") if through is not None else None
    result = walk(c, pairs=pairs, through=path, steps=steps, method=method, ema=ema, device=_device(device))
    frames = result.frames  # (R, T, C, H, W)
    name = f"through-{seeds_label(path)}" if path else f"{from_seed}-{to_seed}" + (f"-rows{rows}" if rows > 1 else "")
    target = out_path or output_path(c.path, c.step, "interpolate", f"{name}-{result.method}-{steps}.png")
    save_grid(frames.flatten(0, 1), target, nrow=frames.shape[1] if not result.loops else steps)
    if gif is not None:
        gif_frames = [grid_image(frames[:, t], nrow=1, padding=0 if result.loops else 2) for t in range(frames.shape[1])]
        # Rows play back and forth so the loop has no jump; a --through path already returns to its start.
        save_gif(gif_frames if result.loops else gif_frames + gif_frames[-2:0:-1], gif)
    say(f"wrote {target}" + (f" and {gif}" if gif else "") + f" ({result.method}, {steps} steps)")


# --- arithmetic


@app.command()
@cli_errors
def arithmetic(
    args: Annotated[list[str] | None, typer.Argument(metavar="[CKPT] EXPRESSION", help='Optional checkpoint or run folder, then terms joined by + and -, e.g. "smiling woman - woman + man".', show_default=False)] = None,
    ckpt_opt: Annotated[Path | None, typer.Option("--ckpt", help="The checkpoint, as an option (same as the first argument).", show_default=False)] = None,
    method: Annotated[ArithMethod, typer.Option(help="anchored: samples of the first term plus the others' means taken where the anchor is; paper: sums of 3-exemplar means (Radford et al.); mean: sums of all matches' means.")] = "anchored",
    out_path: OutOpt = None,
    individual: Annotated[Path | None, typer.Option(help="Also write each result image to this folder (result-N.png), for any other judge.", show_default=False)] = None,
    probe: Annotated[bool, typer.Option("--probe", help="Report how linearly z holds each attribute (which concepts arithmetic can move); the expression is then optional.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the labelled sample bank, the anchors and exemplars.")] = 0,
    variants: Annotated[int, typer.Option(help="Results beyond the first: more anchors (anchored) or noisy copies (paper, mean).")] = 8,
    define: Annotated[list[str] | None, typer.Option("--define", help="Define a concept from seeds: 'smiling woman=12,45,77'.", show_default=False)] = None,
    samples: Annotated[int, typer.Option(help="Generated samples labelled to find concept vectors (the anchored method takes means per context, so it wants many).")] = 16384,
    attr_images: Annotated[int, typer.Option(help="Real labelled images the attribute model learns from (a tenth held out).")] = 30_000,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write what was found as JSON: expected, seen and match per result image.", show_default=False)] = None,
    cache_dir: CacheOpt = None,
    data_root: RootOpt = None,
    ema: EmaOpt = None,
    device: DeviceOpt = "auto",
):
    """Latent vector arithmetic over named concepts, as in the paper's figure 7, with a verdict per attribute.

    Example: dcgan arithmetic runs/demo "red large circle - blue circle + blue square"
    """
    check_file_target(json_path, "--json")
    import re

    from .analysis.arithmetic import figure, parse_define, run
    from .files import write_json
    from .images import check_folder_path, check_image_path, save_individual, save_pil
    from .runs import output_path

    args = list(args or [])
    if probe and len(args) == 1 and ckpt_opt is None:  # `arithmetic CKPT --probe`: the expression is optional
        args = [args[0], ""]
    if len(args) == 1 and ckpt_opt is None and Path(args[0]).exists():
        raise UsageError(f"{args[0]} is a checkpoint; give an expression after it, e.g. \"red circle - circle + square\", or --probe")
    if len(args) == 2:
        if ckpt_opt is not None:
            raise UsageError("give the checkpoint as the first argument or with --ckpt, not both")
        ckpt, expression = Path(args[0]), args[1]
    elif len(args) == 1:
        ckpt, expression = ckpt_opt, args[0]
    elif not args and probe:
        ckpt, expression = ckpt_opt, ""
    else:
        raise UsageError(f"expected [CKPT] EXPRESSION, got {len(args)} arguments; quote the expression: \"red circle - circle + square\"")
    if out_path is not None:
        check_image_path(out_path)
    if individual is not None:
        check_folder_path(individual, "--individual")
    defines = dict(parse_define(d) for d in (define or []))
    c = _checkpoint(ckpt)
    dev = _device(device)
    rep: dict = {}
    if probe:
        from .analysis.separability import run as separability

        with progress("probing z") as bar:
            rep["separability"] = separability(c, samples=samples, attr_images=attr_images, seed=seed, ema=ema, device=dev,
                                               data_root=data_root, cache_dir=cache_dir,
                                               on_progress=lambda what, done, total: bar.update(done, total, what))
        say(f"how linearly z holds each attribute ({samples} labelled samples, held-out quarter):")
        for row in rep["separability"]["attributes"]:
            acc = "" if row["accuracy"] is None else f"{row['accuracy']:.0%} (always the commonest value: {row['majority']:.0%}): "
            say(f"  {row['attribute']}: {acc}{row['verdict']}")
        if not expression.strip():
            if json_path is not None:
                write_json(json_path, rep["separability"])
                say(f"wrote {json_path}")
            return
    with progress("arithmetic") as bar:
        result = run(c, expression, method=method, defines=defines, samples=samples, attr_images=attr_images, variants=variants,
                     seed=seed, ema=ema, device=dev, data_root=data_root, cache_dir=cache_dir,
                     on_progress=lambda what, done, total: bar.update(done, total, what))
    slug = re.sub(r"[^a-z0-9]+", "-", expression.lower()).strip("-")[:60] or "expression"
    target = out_path or output_path(c.path, c.step, "arithmetic", f"{slug}-{method}-seed{seed}.png")
    save_pil(figure(result), target)
    if individual is not None:
        save_individual(result.result_images, individual, [f"result-{i}.png" for i in range(len(result.result_images))])
    rep |= result.report
    for t in rep["terms"]:
        if t.get("role") == "anchor":
            how = f"{t['anchors']} anchors: {'seeds' if t['from'] == 'seeds' else 'samples'} of it"
        else:
            how = "seeds" if t["from"] == "seeds" else f"{t['count']} samples, match {t['confidence']:.2f}"
            how = f"mean z of {how}"
        asked = f" (asked: {t['asked']})" if t.get("asked") else ""
        relaxed = f"; too few samples, so not held: {', '.join(t['relaxed'])}" if t.get("relaxed") else ""
        say(f"{t['coef']:+g} x {t['phrase']!r}{asked}: {how}{relaxed}")
    summary = rep.get("summary")
    if summary:
        n = len(rep["results"])
        for name, s in summary.items():
            seen = ", ".join(f"{v} {k}/{n}" for v, k in sorted(s["seen"].items(), key=lambda kv: -kv[1]))
            ok = s["match"] >= s["of"] / 2
            verdict = ("changed as asked" if s["moved"] else "kept") if ok else "wrong"
            say(f"{name}: expected {'/'.join(s['expected'])}, seen {seen}: {verdict}")
        say(f"{sum(bool(r.get('all_match')) for r in rep['results'])}/{n} results show every expected attribute")
    elif rep.get("result_attributes") is not None:
        seen = ", ".join(f"{k} ({v:.2f})" for k, v in rep["result_attributes"].items()) or "no attribute above 0.5"
        why = "its terms cancel" if rep.get("results") and "expected" in rep["results"][0] else "some phrase is defined by seeds, not by the vocabulary"
        say(f"result shows: {seen} (nothing to expect: {why})")
    if rep.get("attribute_model_accuracy") is not None:
        say(f"attribute model: {rep['attribute_model_accuracy']:.1%} accuracy on {rep['attribute_model_heldout']} held-out real images")
    if json_path is not None:
        write_json(json_path, rep)
    say(f"wrote {target}" + (f", {individual}" if individual else "") + (f" and {json_path}" if json_path else ""))


# --- nn-search


@app.command("nn-search")
@cli_errors
def nn_search(
    ckpt: CkptArg = None,
    n: NOpt = None,
    seeds: SeedsOpt = None,
    k: Annotated[int, typer.Option("--k", help="Neighbours per query.")] = 5,
    query: Annotated[list[Path] | None, typer.Option("--query", help="Image file(s) to search for instead of samples.", show_default=False)] = None,
    split: Annotated[Split, typer.Option(help="Search the train or the test split.")] = "train",
    holdout: Annotated[int, typer.Option(help="Unseen real images for the memorization statistic (0: skip).")] = 256,
    out_path: OutOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the full report as JSON.", show_default=False)] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Training images per matrix product (default: 256 MB of float32).", show_default=False)] = None,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
    ema: EmaOpt = None,
    device: DeviceOpt = "auto",
):
    """Find the training images nearest (squared L2) to generated samples (default seeds 0-7): is the GAN copying?

    Example: dcgan nn-search runs/demo --n 8 --k 5 --json nn.json
    """
    check_file_target(json_path, "--json")
    from rich.table import Table

    from .analysis.nn_report import neighbour_grid
    from .analysis.nn_search import search
    from .analysis.sample import resolve_seeds, seeds_label
    from .files import write_json
    from .images import check_image_path, save_pil
    from .runs import output_path

    if query and (n is not None or seeds is not None):
        raise UsageError("give --query images or --n/--seeds, not both")
    queries = list(query) if query else resolve_seeds(n, seeds, 8, limit=10_000)
    if out_path is not None:
        check_image_path(out_path)
    c = _checkpoint(ckpt)
    with progress(f"searching {split} images") as bar:
        result = search(c, queries, k=k, split=split, holdout=holdout, chunk_size=chunk_size, device=_device(device),
                        data_root=data_root, cache_dir=cache_dir, ema=ema, on_progress=bar)
    rep = {"checkpoint": str(c.path), "step": c.step} | result.report()
    name = f"{split}-" + ("query" if query else f"seeds-{seeds_label(queries)}") + f"-k{k}.png"
    target = out_path or output_path(c.path, c.step, "nn-search", name)
    save_pil(neighbour_grid(result.queries, result.data.images, result.neighbours), target)
    if json_path is not None:
        write_json(json_path, rep)
    table = Table("query", *[f"#{i + 1}" for i in range(k)], title=f"nearest {split} images (squared L2, [-1, 1] pixels)")
    for q in rep["queries"]:
        label = f"seed {q['seed']}" if "seed" in q else Path(q["path"]).name
        table.add_row(label, *[f"{nb['index']}\n{nb['distance']:.1f}" for nb in q["neighbours"]])
    out.print(table)
    if result.memorization:
        say(result.memorization["verdict"])
    say(f"wrote {target}" + (f" and {json_path}" if json_path else ""))


# --- plot


@app.command()
@cli_errors
def plot(
    run: Annotated[Path | None, typer.Argument(help="Run folder (or a checkpoint in it); default: the newest run under ./runs.", show_default=False)] = None,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
):
    """Draw a run's curves, its progress GIF and real vs fake, into RUN/plots/. Example: dcgan plot runs/demo"""
    from .data import checkpoint_data
    from .evaluation.evaluate import real_subset
    from .runs import RunFolder
    from .training.plots import plot_run

    c = _checkpoint(run)
    folder = c.run or (RunFolder(Path(run)) if run is not None and Path(run).is_dir() else None)
    if folder is None:
        raise UsageError(f"{c.path} is not inside a run folder; pass the folder `dcgan train` wrote")
    try:
        real = real_subset(checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir), 64)
    except DcganError as e:
        real = None
        note(f"note: no real images for real-vs-fake ({e})")
    for name, result in plot_run(folder.path, real_u8=real).items():
        say(f"wrote {result}" if isinstance(result, Path) else f"{name}: skipped ({result})")


# --- evaluate


@app.command()
@cli_errors
def evaluate(
    ckpt: CkptArg = None,
    images: Annotated[Path | None, typer.Option("--images", help="A folder of generated pictures instead of the checkpoint's samples.", show_default=False)] = None,
    real: Annotated[Path | None, typer.Option("--real", help="A folder of real pictures instead of the checkpoint's data split.", show_default=False)] = None,
    split: Annotated[Split, typer.Option(help="The real data split to compare with.")] = "train",
    metrics: Annotated[str, typer.Option(help="Comma-separated: fid, kid, pr (precision and recall).")] = "fid,kid,pr",
    n: Annotated[int, typer.Option("--n", help="Images per side: generated from seeds 0..N-1, real a fixed random subset.")] = 10_000,
    features: Annotated[Features | None, typer.Option(help="Feature space (default: domain for labelled data sets, else inception).", show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(help="Images per feature batch.")] = 64,
    ema: EmaOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the figures and their protocol as JSON.", show_default=False)] = None,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
    device: DeviceOpt = "auto",
):
    """Measure sample quality: FID, KID, precision and recall, with the protocol. Example: dcgan evaluate runs/demo --n 2048

    Two folders with no checkpoint: dcgan evaluate --images fakes/ --real reals/ --features inception
    """
    check_file_target(json_path, "--json")
    from .evaluation.evaluate import evaluate as measure
    from .evaluation.evaluate import parse_metrics
    from .files import write_json

    chosen = parse_metrics(metrics)
    with progress("evaluating") as bar:
        result = measure(None if (ckpt is None and images is not None and real is not None) else ckpt, images=images, real=real,
                         split=split, metrics=chosen, n=n, features=features, batch_size=batch_size, ema=ema,
                         device=_device(device), data_root=data_root, cache_dir=cache_dir,
                         on_progress=lambda what, done, total: bar.update(done, total, what))
    m, p = result.metrics, result.protocol
    names = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall"}
    say("  ".join(f"{names[k]} {m[k]:.4g}" + (f" ± {m['kid_std']:.2g}" if k == "kid" else "") for k in names if k in m))
    for key in ("generated", "real", "features", "resize"):
        say(f"{key}: {p[key]}")
    if json_path is not None:
        write_json(json_path, result.to_dict())
        say(f"wrote {json_path}")


# --- probe


@app.command()
@cli_errors
def probe(
    ckpt: CkptArg = None,
    dataset: Annotated[Dataset | None, typer.Option(help="Probe on this data set (default: the one the checkpoint was trained on).", show_default=False)] = None,
    target: Annotated[str | None, typer.Option(help="What to classify: a label of a class group (its group) or a binary attribute (default: the first group, e.g. the digit).", show_default=False)] = None,
    labels_per_class: Annotated[int, typer.Option(help="Labelled training images per class; 0: all of them.")] = 1000,
    repeats: Annotated[int, typer.Option(help="Draws of the labelled images (mean and spread reported).")] = 1,
    test_n: Annotated[int, typer.Option("--test-n", help="Test images at most (a fixed random subset).")] = 10_000,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the figures and their protocol as JSON.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the labelled draws, the split and the random D.")] = 0,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
    device: DeviceOpt = "auto",
):
    """Is D a good representation? The paper's linear probe of D's features, against pixels and a random D.
    Example: dcgan probe runs/mnist --labels-per-class 100"""
    check_file_target(json_path, "--json")
    from .analysis.probe import run
    from .files import write_json

    if test_n < 1:
        raise UsageError(f"--test-n must be at least 1, got {test_n}")
    with progress("probing") as bar:
        result = run(ckpt, dataset=dataset, data_root=data_root, cache_dir=cache_dir, target=target,
                     labels_per_class=labels_per_class or None, repeats=repeats, test_n=test_n, seed=seed,
                     device=_device(device), on_progress=bar)
    per = f"{result.labels_per_class} labels per class" if result.labels_per_class else "all labels"
    say(f"{result.target}: {len(result.classes)} classes, {per} ({result.n_train} training images), {result.n_test} test images")
    for r in result.rows:
        spread = f" ± {r.spread:.2%}" if len(r.accuracies) > 1 else ""
        say(f"  {r.representation:10s} {r.dim:6d} features  accuracy {r.accuracy:.2%}{spread}  (error {1 - r.accuracy:.2%})")
    if json_path is not None:
        write_json(json_path, result.to_dict())
        say(f"wrote {json_path}")


# --- ablate


@app.command()
@cli_errors
def ablate(
    ckpt: CkptArg = None,
    concept: Annotated[str, typer.Option(help="A label of the data set to make G forget, e.g. triangle or red.")] = ...,
    n: NOpt = None,
    seeds: SeedsOpt = None,
    bank: Annotated[int, typer.Option(help="Generated samples to find the maps in and to measure on.")] = 2048,
    out_path: OutOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the dropped maps and the shares as JSON.", show_default=False)] = None,
    ema: EmaOpt = None,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
    device: DeviceOpt = "auto",
):
    """Forgetting to draw (paper 6.3.1): drop the G feature maps that carry a concept, with and without, side by side.
    Example: dcgan ablate runs/demo --concept triangle"""
    check_file_target(json_path, "--json")
    from .analysis.ablate import run
    from .analysis.sample import resolve_seeds, seeds_label
    from .files import write_json
    from .images import check_image_path, save_grid
    from .runs import output_path

    shown = resolve_seeds(n, seeds, 16, limit=256)
    if out_path is not None:
        check_image_path(out_path)
    with progress("ablating") as bar:
        result = run(ckpt, concept, n=bank, seeds=shown, ema=ema, data_root=data_root, cache_dir=cache_dir,
                     device=_device(device), on_progress=lambda what, done, total: bar.update(done, total, what))
    c = _checkpoint(ckpt)
    target = out_path or output_path(c.path, c.step, "ablate", f"{concept}-seeds-{seeds_label(shown)}.png")
    import torch

    save_grid(torch.cat([result.before, result.after]), target, nrow=len(shown))
    say(f"dropped {len(result.dropped)} of {result.maps} maps of G's second-highest layer")
    say(f"{concept}: seen in {result.share_before:.1%} of {result.n} samples before, {result.share_after:.1%} after "
        f"({result.share_random:.1%} after dropping as many random maps)")
    say(f"wrote {target} (top row intact, bottom row with the maps dropped)" + (f" and {json_path}" if json_path else ""))
    if json_path is not None:
        write_json(json_path, result.to_dict())


# --- explain


@app.command()
@cli_errors
def explain(
    ckpt: CkptArg = None,
    n: Annotated[int, typer.Option("--n", help="Real test images to choose from.")] = 512,
    features: Annotated[int, typer.Option(help="D's first N last-block features, a row each.")] = 6,
    per: Annotated[int, typer.Option(help="Images per feature: those that excite it most.")] = 8,
    out_path: OutOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the image subset and the random D.")] = 0,
    data_root: RootOpt = None,
    cache_dir: CacheOpt = None,
    device: DeviceOpt = "auto",
):
    """What D looks at (paper fig. 5): guided backpropagation of D's last-block features on real images, trained vs random D.
    Example: dcgan explain runs/demo"""
    check_file_target(json_path, "--json")
    from .analysis.explain import run
    from .files import write_json
    from .images import check_image_path, save_grid
    from .runs import output_path

    if out_path is not None:
        check_image_path(out_path)
    result = run(ckpt, n=n, features=features, per=per, seed=seed, data_root=data_root, cache_dir=cache_dir, device=_device(device))
    c = _checkpoint(ckpt)
    target = out_path or output_path(c.path, c.step, "explain", f"features-{features}-per-{per}-seed{seed}.png")
    import torch

    # Rows: each feature's images, then the trained D's guided gradients, then the random D's.
    rows = [t.view(features, per, *t.shape[1:]) for t in (result.images, result.trained, result.random)]
    save_grid(torch.stack(rows, 1).flatten(0, 2), target, nrow=per)
    shares = result.on_object
    say(f"share of the guided gradient on the object: trained D {shares['trained D']:.1%}, random D {shares['random D']:.1%}")
    say(f"wrote {target} (per feature: the images, the trained D's gradients, the random D's)" + (f" and {json_path}" if json_path else ""))
    if json_path is not None:
        write_json(json_path, result.to_dict())


# --- data


@data_app.command("prepare")
@cli_errors
def data_prepare(
    dataset: Annotated[Dataset, typer.Option(help="The data set.")],
    size: Annotated[int, typer.Option(help="Image size: 28, 32, 64 or 128.")],
    data_root: RootOpt = None,
    split: Annotated[Split, typer.Option(help="Which split.")] = "train",
    channels: Annotated[int | None, typer.Option(help="1 (grey) or 3 (colour); default: the data set's.", show_default=False)] = None,
    cache_dir: CacheOpt = None,
    download: Annotated[bool, typer.Option(help="Download the data set if it is missing.")] = False,
    rebuild: Annotated[bool, typer.Option(help="Rebuild even when the cache is up to date.")] = False,
    workers: Annotated[int | None, typer.Option(help="Decoding threads (default: all cores).", show_default=False)] = None,
):
    """Decode, crop and resize a data set once into a memory-mapped cache. Example: dcgan data prepare --dataset celeba --size 64"""
    from .data.cache import load_data, read_manifest

    with progress(f"preparing {dataset} {size}px") as bar:
        data = load_data(dataset, size, root=data_root, split=split, cache_root=cache_dir, download=download,
                         rebuild=rebuild, workers=workers, channels=channels, on_progress=bar)
    m = read_manifest(data.cache_dir)
    skipped = f", skipped {m['skipped']} unreadable or over-large file(s)" if m.get("skipped") else ""
    say(f"{dataset} {split}: {m['count']} images of {m['shape'][1]}x{size}x{size} in {data.cache_dir}{skipped}")


@data_app.command("info")
@cli_errors
def data_info(
    cache_dir: CacheOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
):
    """List prepared caches with their counts, sizes and labels."""
    from rich.table import Table

    from .data.cache import list_caches
    from .files import to_json

    caches = list_caches(cache_dir)
    if as_json:
        print(to_json(caches))
        return
    if not caches:
        say("no prepared data sets yet; run `dcgan data prepare` or `dcgan train`")
        return
    table = Table("data set", "split", "images", "shape", "MB", "labels", "source")
    for c in caches:
        labels = ", ".join(c["label_names"][:6]) + (" ..." if len(c["label_names"]) > 6 else "")
        name = c["dataset"] + (" (damaged: rebuild it)" if c.get("damaged") else "")
        table.add_row(name, c["split"], str(c["count"]), "x".join(map(str, c["shape"][1:])),
                      f"{c['bytes'] / 1e6:.1f}", labels or "-", str(c["source"]))
    out.print(table)


def version_callback(value: bool) -> None:
    if value:
        print(f"dcgan-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Show the version.")] = False,
):
    """Train Deep Convolutional GANs and explore what they learned."""


def main() -> None:
    try:
        app(prog_name="dcgan")
    except KeyboardInterrupt:
        note("aborted")
        sys.exit(130)


if __name__ == "__main__":
    main()
