"""The `dcgan` command line: thin Typer commands over the library functions.

Each command parses options, calls one library function and prints. Errors the user can fix
arrive as DcganError and leave as one line on stderr with exit code 2 (usage) or 1 (failure).
"""

from __future__ import annotations

import functools
import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from . import __version__
from .errors import DcganError, UsageError

app = typer.Typer(
    name="dcgan",
    help="Train Deep Convolutional GANs (Radford et al., 2015) and explore what they learned.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Prepare and list the decoded-once data caches.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
err = Console(stderr=True)

DeviceOpt = Annotated[str, typer.Option("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")]
CkptArg = Annotated[Optional[Path], typer.Argument(help="Checkpoint file or run folder; default: the newest under ./runs.", show_default=False)]


def cli_errors(fn):
    """Turn DcganError into a one-line message and an exit code; bugs still show a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DcganError as e:
            err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(e.exit_code) from None

    return wrapper


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=err, transient=False,
    )


def _load_data_with_progress(name: str, size: int, **kwargs):
    from .cache import load_data

    with _progress() as bar:
        task = bar.add_task(f"preparing {name} {size}px", total=None, info="")

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return load_data(name, size, on_progress=on_progress, **kwargs)


@app.command()
@cli_errors
def train(
    dataset: Annotated[Optional[str], typer.Option(help="shapes (built in), mnist, fashion-mnist, svhn, cifar10, celeba, lsun, folder.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).")] = None,
    size: Annotated[Optional[int], typer.Option(help="Image size: 28, 32, 64 or 128 (default: the preset's).")] = None,
    preset: Annotated[Optional[str], typer.Option(help="paper64, celeba64, celeba128, mnist28, svhn32, cifar32, shapes32.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="TOML file with \\[model] and \\[train] tables.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs in all (default 5).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Stop after this many steps in all.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size (default 128).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Adam learning rate (default 2e-4).")] = None,
    beta1: Annotated[Optional[float], typer.Option(help="Adam beta1 (default 0.5).")] = None,
    g_steps: Annotated[Optional[int], typer.Option(help="G updates per D update (default 1).")] = None,
    z_dist: Annotated[Optional[str], typer.Option(help="normal or uniform.")] = None,
    z_scale: Annotated[Optional[float], typer.Option(help="Std of a normal z, half-width of a uniform z.")] = None,
    nz: Annotated[Optional[int], typer.Option(help="Latent size (default 100).")] = None,
    ngf: Annotated[Optional[int], typer.Option(help="Generator width.")] = None,
    ndf: Annotated[Optional[int], typer.Option(help="Discriminator width.")] = None,
    g_act: Annotated[Optional[str], typer.Option(help="relu, leaky_relu or tanh.")] = None,
    d_act: Annotated[Optional[str], typer.Option(help="leaky_relu, relu or tanh.")] = None,
    batch_norm: Annotated[Optional[bool], typer.Option("--batch-norm/--no-batch-norm", help="Batch norm in G and D.")] = None,
    downsample: Annotated[Optional[str], typer.Option(help="strided or pool (D's downsampling).")] = None,
    channels_last: Annotated[Optional[bool], typer.Option("--channels-last/--no-channels-last", help="NHWC memory layout.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for init, data order and z (default 0).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N images only.")] = None,
    log_every: Annotated[Optional[int], typer.Option(help="Write metrics every N steps (default 10).")] = None,
    keep: Annotated[Optional[int], typer.Option(help="Checkpoints kept in the run folder (default 3).")] = None,
    device: DeviceOpt = "auto",
    out_dir: Annotated[Optional[Path], typer.Option("--out", help="Run folder (default runs/<dataset>-<size>-<time>).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Run folder or checkpoint to continue exactly.")] = None,
    download: Annotated[bool, typer.Option(help="Download the data set if it is missing (where its host allows).")] = False,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Decoded-data cache (default $DCGAN_CACHE or ~/.cache/dcgan/cache).")] = None,
):
    """Train a DCGAN. Example: dcgan train --dataset shapes --epochs 5 --out runs/demo"""
    from .checkpoint import load_checkpoint
    from .config import build_configs, resume_configs
    from .device import select_device
    from .model import ModelConfig
    from .train import TrainConfig
    from .train import train as run_training

    model_over = dict(size=size, nz=nz, ngf=ngf, ndf=ndf, g_act=g_act, d_act=d_act, batch_norm=batch_norm,
                      downsample=downsample, z_dist=z_dist, z_scale=z_scale)
    train_over = dict(epochs=epochs, max_steps=max_steps, batch_size=batch_size, lr=lr, beta1=beta1, g_steps=g_steps,
                      seed=seed, channels_last=channels_last, limit=limit, log_every=log_every, keep=keep)
    dev = select_device(device)
    ckpt = None
    if resume is not None:
        if preset or config:
            raise UsageError("--preset and --config cannot be used with --resume: the run keeps its stored settings")
        ckpt = load_checkpoint(resume)
        stored_train = TrainConfig.from_dict(ckpt.train_config)
        if dataset is not None and dataset != stored_train.dataset:
            raise UsageError(f"cannot change dataset on --resume (the run has {stored_train.dataset!r}, you gave {dataset!r})")
        mcfg = ckpt.model_config
        tcfg = resume_configs(mcfg, stored_train, model_over, train_over)
        run_dir = ckpt.path.parent.parent
        if out_dir is not None and out_dir.resolve() != run_dir.resolve():
            raise UsageError(f"--out {out_dir} differs from the resumed run's folder {run_dir}; leave --out out")
        data_root = data_root or (Path(ckpt.dataset["root"]) if ckpt.dataset.get("root") else None)
    else:
        mcfg, tcfg = build_configs(dataset or "shapes", preset=preset, config_file=config,
                                   model_overrides=model_over, train_overrides=train_over)
        run_dir = out_dir or Path("runs") / f"{tcfg.dataset}-{mcfg.size}-{time.strftime('%Y%m%d-%H%M%S')}"
        if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("*.safetensors")):
            raise UsageError(f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out")

    data = _load_data_with_progress(tcfg.dataset, mcfg.size, root=data_root, cache_root=cache_dir, download=download)
    if data.channels != mcfg.nc:
        if ckpt is not None:
            raise UsageError(f"the data set has {data.channels} channels but the resumed model makes {mcfg.nc}")
        mcfg = ModelConfig(**{**mcfg.to_dict(), "nc": data.channels})
    meta = data.describe() | {"root": str(data_root) if data_root else None}

    stop = {"asked": False}

    def on_sigint(signum, frame):
        if stop["asked"]:
            raise KeyboardInterrupt
        stop["asked"] = True
        err.print("[yellow]stopping: saving a checkpoint after this step (Ctrl-C again to abort without saving)[/]")

    previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
    err.print(f"training {tcfg.dataset} {mcfg.size}px ({data.images.shape[0]} images) on {dev} into {run_dir}")
    try:
        with _progress() as bar:
            task = bar.add_task("training", total=None, info="")

            def on_step(s: dict) -> None:
                m = s["metrics"]
                info = f"loss_d {m['loss_d']:.3f} loss_g {m['loss_g']:.3f} {m['img_per_s']:.0f} img/s" if m else ""
                bar.update(task, completed=s["step"], total=s["total_steps"], info=info)

            result = run_training(mcfg, tcfg, data.images, run_dir, dataset_meta=meta, device=dev, resume=ckpt,
                                  on_step=on_step, should_stop=lambda: stop["asked"])
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if result.interrupted:
        err.print(f"interrupted at step {result.step}; checkpoint {result.checkpoint}")
        err.print(f"resume with: dcgan train --resume {run_dir}", markup=False)
        raise typer.Exit(130)
    out.print(f"done: step {result.step}, epoch {result.epoch}; checkpoint {result.checkpoint}", markup=False)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@app.command()
@cli_errors
def sample(
    ckpt: CkptArg = None,
    n: Annotated[Optional[int], typer.Option("--n", help="Number of images, seeds 0..n-1 (default 64).")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds: a range 0-63 or a list 3,7,9. Overrides --n.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Grid image to write.")] = Path("samples.png"),
    individual: Annotated[Optional[Path], typer.Option(help="Also write each image to this folder as seed-N.png.")] = None,
    nrow: Annotated[Optional[int], typer.Option(help="Images per grid row (default: square).")] = None,
    device: DeviceOpt = "auto",
):
    """Generate images, each from its own seed. Example: dcgan sample runs/demo --seeds 0-15 --out grid.png"""
    from .checkpoint import load_checkpoint
    from .device import select_device
    from .images import save_grid, save_individual
    from .sample import generate_from_seeds, parse_seeds

    if n is not None and seeds is not None:
        raise UsageError("give --n or --seeds, not both")
    if n is not None and n < 1:
        raise UsageError(f"--n must be at least 1, got {n}")
    seed_list = parse_seeds(seeds) if seeds is not None else list(range(n or 64))
    c = load_checkpoint(ckpt)
    images = generate_from_seeds(c.generator(select_device(device)), seed_list)
    save_grid(images, out_path, nrow)
    if individual is not None:
        save_individual(images, individual, [f"seed-{s}.png" for s in seed_list])
    out.print(f"wrote {out_path} ({len(seed_list)} images from {c.path})", markup=False)


@app.command()
@cli_errors
def info(
    ckpt: CkptArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
):
    """Show what a checkpoint holds: model, training settings, data set, progress."""
    from .checkpoint import load_checkpoint

    c = load_checkpoint(ckpt)
    summary = {
        "path": str(c.path), "format_version": c.meta["format_version"], "package_version": c.meta.get("package_version"),
        "epoch": c.epoch, "step": c.step, "model": c.model_config.to_dict(), "train": c.train_config,
        "dataset": c.dataset, "metrics": c.meta.get("metrics", {}),
        "tensors": len(c.tensors), "parameters": {p: sum(v.numel() for v in c.state_dict(p).values()) for p in ("G", "D")},
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=str(c.path), show_header=False)
    for key in ("format_version", "package_version", "epoch", "step", "parameters"):
        table.add_row(key, str(summary[key]))
    for section in ("model", "train", "dataset", "metrics"):
        table.add_row(f"[bold]{section}", ", ".join(f"{k}={v}" for k, v in summary[section].items() if k != "label_names"))
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
    through: Annotated[Optional[str], typer.Option(help="One path through several seeds, e.g. 3,8,12,3 (loops).")] = None,
    method: Annotated[Optional[str], typer.Option(help="slerp or lerp (default: slerp for normal z, lerp for uniform z).")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Grid image to write.")] = Path("interp.png"),
    gif: Annotated[Optional[Path], typer.Option(help="Also write an animated GIF.")] = None,
    device: DeviceOpt = "auto",
):
    """Walk through latent space between seeds. Example: dcgan interpolate runs/demo --steps 9 --rows 4 --gif interp.gif"""
    from .checkpoint import load_checkpoint
    from .device import select_device
    from .images import grid_image, save_gif, save_grid
    from .latent import interpolate_seeds, interpolate_through
    from .sample import parse_seeds

    c = load_checkpoint(ckpt)
    G = c.generator(select_device(device))
    method = method or ("lerp" if c.model_config.z_dist == "uniform" else "slerp")
    if through is not None:
        frames = interpolate_through(G, parse_seeds(through), steps, method)  # (T, C, H, W)
        save_grid(frames, out_path, nrow=steps)
        gif_frames = [grid_image(f[None], nrow=1, padding=0) for f in frames]
    else:
        if rows < 1:
            raise UsageError(f"--rows must be at least 1, got {rows}")
        pairs = [(from_seed + 2 * i, to_seed + 2 * i) for i in range(rows)]
        grid = interpolate_seeds(G, pairs, steps, method)  # (R, T, C, H, W)
        save_grid(grid.flatten(0, 1), out_path, nrow=steps)
        gif_frames = [grid_image(grid[:, t], nrow=1) for t in range(steps)]
    if gif is not None:
        # Back and forth, so the loop has no jump.
        save_gif(gif_frames + gif_frames[-2:0:-1] if through is None else gif_frames, gif)
    out.print(f"wrote {out_path}" + (f" and {gif}" if gif else "") + f" ({method}, {steps} steps)", markup=False)


@app.command()
@cli_errors
def arithmetic(
    expression: Annotated[str, typer.Argument(help='Terms joined by + and -, e.g. "smiling woman - woman + man" or "0.5 red circle + square".')],
    ckpt: Annotated[Optional[Path], typer.Option("--ckpt", help="Checkpoint or run folder (default: newest under ./runs).")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Figure: each term's mean image, the result, then variants.")] = Path("arith.png"),
    seed: Annotated[int, typer.Option(help="Seed for the labelled sample bank and the variants' noise.")] = 0,
    variants: Annotated[int, typer.Option(help="Results with small noise added to the result vector.")] = 8,
    define: Annotated[Optional[list[str]], typer.Option("--define", help="Define a concept from seeds: 'smiling woman=12,45,77'.")] = None,
    samples: Annotated[int, typer.Option(help="Generated samples labelled to find concept vectors.")] = 4096,
    attr_images: Annotated[int, typer.Option(help="Real labelled images the attribute model learns from (a tenth held out).")] = 30_000,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write what was found as JSON.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Decoded-data cache folder.")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Where the data set lies, if its cache must be built.")] = None,
    device: DeviceOpt = "auto",
):
    """Latent vector arithmetic over named concepts, as in the paper's figure 7.

    Example: dcgan arithmetic "red circle - circle + square" --ckpt runs/demo
    """
    import torch

    from .arithmetic import (
        concept_from_bank,
        concept_from_seeds,
        parse_define,
        parse_expression,
        phrase_constraints,
        result_vectors,
        sample_bank,
        vocabulary,
    )
    from .checkpoint import load_checkpoint
    from .device import select_device
    from .images import save_grid
    from .sample import generate

    terms = parse_expression(expression)
    if variants < 0 or samples < 16 or attr_images < 20:
        raise UsageError("--variants must be at least 0, --samples at least 16 and --attr-images at least 20")
    c = load_checkpoint(ckpt)
    dev = select_device(device)
    defined = dict(parse_define(d) for d in (define or []))
    todo = [t for t in terms if t.phrase not in defined]
    concepts: dict[str, object] = {p: concept_from_seeds(c.model_config, p, s) for p, s in defined.items()}
    bank = None
    if todo:
        label_names = c.dataset.get("label_names") or []
        if not label_names:
            missing = ", ".join(repr(t.phrase) for t in todo)
            raise UsageError(f"this data set has no labels, so {missing} cannot be found; define it from seeds with --define 'phrase=12,45,77'")
        vocab = vocabulary(c.dataset.get("name", ""), label_names)
        wants = phrase_constraints(todo, vocab)
        data = _checkpoint_data(c, "train", cache_dir, data_root)
        with err.status("training the attribute model and labelling generated samples..."):
            bank = sample_bank(c, data, n=samples, seed=seed, attr_images=attr_images, device=dev)
        for t, want in zip(todo, wants):
            concepts[t.phrase] = concept_from_bank(bank, t.phrase, want)
    chosen = [concepts[t.phrase] for t in terms]
    G = c.generator(dev)
    term_imgs = generate(G, torch.stack([k.z for k in chosen]))
    result_imgs = generate(G, result_vectors(terms, chosen, c.model_config, variants=variants, seed=seed))
    width = max(len(terms) + 1, variants)
    blank = -torch.ones_like(term_imgs[:1])
    row1 = torch.cat([term_imgs, result_imgs[:1], blank.repeat(width - len(terms) - 1, 1, 1, 1)])
    row2 = torch.cat([result_imgs[1:], blank.repeat(width - variants, 1, 1, 1)]) if variants else blank[:0]
    save_grid(torch.cat([row1, row2]), out_path, nrow=width)

    report = {"expression": expression, "terms": [], "result_attributes": None, "attribute_model_accuracy": None}
    for t, k in zip(terms, chosen):
        how = "seeds" if t.phrase in defined else f"{k.count} samples, match {k.confidence:.2f}"
        out.print(f"{t.coef:+g} x {t.phrase!r}: mean z of {how}", markup=False)
        report["terms"].append({"phrase": t.phrase, "coef": t.coef, "count": k.count, "confidence": k.confidence})
    if bank is not None:
        probs = bank.attr_model.predict(result_imgs.to(dev))  # (1 + variants, A)
        seen = {name: round(float(p), 3) for name, p in zip(bank.attr_model.label_names, probs[0]) if p > 0.5}
        share = probs.gt(0.5).float().mean(0)
        report |= {"result_attributes": seen, "variant_share": {n: round(float(s), 3) for n, s in zip(bank.attr_model.label_names, share) if s > 0},
                   "attribute_model_accuracy": bank.accuracy, "attribute_model_heldout": bank.heldout}
        out.print(f"result shows: {', '.join(f'{k} ({v:.2f})' for k, v in seen.items()) or 'no attribute above 0.5'}", markup=False)
        out.print(f"attribute model: {bank.accuracy:.1%} accuracy on {bank.heldout} held-out real images", markup=False)
    if json_path is not None:
        from .checkpoint import atomic_write_bytes

        atomic_write_bytes(json_path, json.dumps(report, indent=2).encode())
    out.print(f"wrote {out_path}", markup=False)


def _checkpoint_data(c, split: str, cache_dir: Optional[Path], data_root: Optional[Path]):
    """The prepared cache a checkpoint was trained on (train), or the same data set's test split."""
    from .cache import load_data, open_cache
    from .sources import DataError

    ds = c.dataset
    if not ds.get("name"):
        raise DcganError(f"{c.path} does not record its data set; it cannot be searched")
    if split == "train" and ds.get("cache") and Path(ds["cache"], "manifest.json").exists():
        return open_cache(Path(ds["cache"]))
    root = data_root or (Path(ds["root"]) if ds.get("root") else None)
    try:
        return load_data(ds["name"], c.model_config.size, root=root, split=split, cache_root=cache_dir)
    except DataError as e:
        raise DcganError(
            f"the {split} data of {ds['name']} at {c.model_config.size}px is not prepared and cannot be built ({e}); "
            f"run `dcgan data prepare --dataset {ds['name']} --size {c.model_config.size} --split {split}` with --data-root"
        ) from None


@app.command("nn-search")
@cli_errors
def nn_search(
    ckpt: CkptArg = None,
    n: Annotated[int, typer.Option("--n", help="Generated queries, seeds 0..n-1.")] = 8,
    k: Annotated[int, typer.Option("--k", help="Neighbours per query.")] = 5,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds of the generated queries (overrides --n).")] = None,
    query: Annotated[Optional[list[Path]], typer.Option("--query", help="Image file(s) to search for instead of samples.")] = None,
    split: Annotated[str, typer.Option(help="Search the train or the test split.")] = "train",
    holdout: Annotated[int, typer.Option(help="Unseen real images for the memorization statistic (0: skip).")] = 256,
    out_path: Annotated[Path, typer.Option("--out", help="Grid: each row the query, then its neighbours.")] = Path("nn.png"),
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the full report as JSON.")] = None,
    chunk_size: Annotated[Optional[int], typer.Option(help="Training images per matrix product (default: 256 MB of float32).")] = None,
    data_root: Annotated[Optional[Path], typer.Option(help="Where the data set lies, if its cache must be built.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(help="Decoded-data cache folder.")] = None,
    device: DeviceOpt = "auto",
):
    """Find the training images nearest (squared L2) to generated samples: is the GAN copying?

    Example: dcgan nn-search runs/demo --n 8 --k 5 --json nn.json
    """
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from .cache import crop_resize
    from .checkpoint import load_checkpoint
    from .device import select_device
    from .images import save_pil
    from .nn_search import memorization, nearest, to_unit
    from .nn_search_report import neighbour_grid, report
    from .sample import generate_from_seeds, parse_seeds

    if split not in ("train", "test"):
        raise UsageError(f"--split {split!r}: use train or test")
    c = load_checkpoint(ckpt)
    dev = select_device(device)
    cfg = c.model_config
    data = _checkpoint_data(c, split, cache_dir, data_root)
    G = c.generator(dev)
    if query:
        tensors, names = [], []
        for p in query:
            try:
                with Image.open(p) as img:
                    if min(img.size) < cfg.size:
                        raise UsageError(f"--query {p} is {img.size[0]}x{img.size[1]}, smaller than the model's {cfg.size}x{cfg.size}; give a larger image")
                    tensors.append(crop_resize(img, cfg.size, cfg.nc))
            except (OSError, UnidentifiedImageError):
                raise UsageError(f"--query {p} is not a readable image") from None
            names.append(str(p))
        queries = to_unit(np.stack(tensors)).float().view(len(tensors), cfg.nc, cfg.size, cfg.size)
        qinfo = [{"path": s} for s in names]
    else:
        seed_list = parse_seeds(seeds) if seeds is not None else list(range(n))
        queries = generate_from_seeds(G, seed_list)
        qinfo = [{"seed": s} for s in seed_list]
    if queries.shape[1:] != data.images.shape[1:]:
        raise DcganError(f"the model makes {tuple(queries.shape[1:])} images but the cache in {data.cache_dir} holds {tuple(data.images.shape[1:])}")
    nb = nearest(queries, data.images, k, chunk_size=chunk_size, device=dev)
    memo = None
    if holdout > 0 and not query:
        held = data if split == "test" else _checkpoint_data(c, "test", cache_dir, data_root)
        take = held.images[: min(holdout, held.images.shape[0])]
        gen = generate_from_seeds(G, list(range(10_000, 10_000 + take.shape[0])))
        train_data = _checkpoint_data(c, "train", cache_dir, data_root) if split == "test" else data
        d_gen = nearest(gen, train_data.images, 1, chunk_size=chunk_size, device=dev).distances[:, 0]
        d_real = nearest(to_unit(take).float(), train_data.images, 1, chunk_size=chunk_size, device=dev).distances[:, 0]
        memo = memorization(d_gen, d_real) | {"count": int(take.shape[0])}
    rep = report(c, data, split, qinfo, nb, memo)
    save_pil(neighbour_grid(queries, data.images, nb), out_path)
    if json_path is not None:
        from .checkpoint import atomic_write_bytes

        atomic_write_bytes(json_path, json.dumps(rep, indent=2).encode())
    table = Table("query", *[f"#{i + 1}" for i in range(k)], title=f"nearest {split} images (squared L2, [-1, 1] pixels)")
    for q in rep["queries"]:
        label = f"seed {q['seed']}" if "seed" in q else Path(q["path"]).name
        table.add_row(label, *[f"{nb_['index']}\n{nb_['distance']:.1f}" for nb_ in q["neighbours"]])
    out.print(table)
    if memo:
        out.print(memo["verdict"], markup=False)
    out.print(f"wrote {out_path}" + (f" and {json_path}" if json_path else ""), markup=False)


@data_app.command("prepare")
@cli_errors
def data_prepare(
    dataset: Annotated[str, typer.Option(help="shapes, mnist, fashion-mnist, svhn, cifar10, celeba, lsun, folder.")],
    size: Annotated[int, typer.Option(help="Image size: 28, 32, 64 or 128.")],
    data_root: Annotated[Optional[Path], typer.Option(help="Where the data set lies.")] = None,
    split: Annotated[str, typer.Option(help="train or test.")] = "train",
    cache_dir: Annotated[Optional[Path], typer.Option(help="Cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).")] = None,
    download: Annotated[bool, typer.Option(help="Download the data set if it is missing.")] = False,
    rebuild: Annotated[bool, typer.Option(help="Rebuild even when the cache is up to date.")] = False,
    workers: Annotated[Optional[int], typer.Option(help="Decoding threads (default: all cores).")] = None,
):
    """Decode, crop and resize a data set once into a memory-mapped cache. Example: dcgan data prepare --dataset celeba --size 64"""
    data = _load_data_with_progress(dataset, size, root=data_root, split=split, cache_root=cache_dir,
                                    download=download, rebuild=rebuild, workers=workers)
    m = json.loads((data.cache_dir / "manifest.json").read_text())
    skipped = f", skipped {m['skipped']} unreadable file(s)" if m["skipped"] else ""
    out.print(f"{dataset} {split}: {m['count']} images of {m['channels']}x{size}x{size} in {data.cache_dir}{skipped}", markup=False)


@data_app.command("info")
@cli_errors
def data_info(
    cache_dir: Annotated[Optional[Path], typer.Option(help="Cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
):
    """List prepared caches with their counts, sizes and labels."""
    from .cache import list_caches

    caches = list_caches(cache_dir)
    if as_json:
        print(json.dumps(caches, indent=2))
        return
    if not caches:
        out.print("no prepared data sets yet; run `dcgan data prepare` or `dcgan train`", markup=False)
        return
    table = Table("data set", "split", "images", "shape", "MB", "labels", "source")
    for c in caches:
        labels = ", ".join(c["label_names"][:6]) + (" ..." if len(c["label_names"]) > 6 else "")
        table.add_row(c["dataset"], c["split"], str(c["count"]), "x".join(map(str, c["shape"][1:])),
                      f"{c['bytes'] / 1e6:.1f}", labels or "-", c["source"])
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
    app(prog_name="dcgan")


if __name__ == "__main__":
    sys.exit(main())
