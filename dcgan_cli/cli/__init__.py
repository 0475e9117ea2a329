"""The `dcgan` command line: thin Typer commands over the library's entry points.

Each command parses options, calls one library function and prints. Errors the user can fix
arrive as DcganError and leave as one line on stderr with exit code 2 (usage) or 1 (failure);
so do Typer's own usage errors. Only this module and console.py print. Nothing heavier than
Typer is imported until a command runs, so `--help` starts in a fraction of a second.

Conventions shared by every command:
- the checkpoint (a .safetensors file or a run folder) is the first argument; with none, the
  newest run under ./runs;
- `--seeds 0-63` or `--seeds 3,7,9` names the samples; `--n N` is short for seeds 0..N-1;
- with no `--out`, outputs go into the run folder, `RUN/<command>/step-N-<parameters>.png`;
- every command's library call returns one result object; `emit` writes its files and prints
  its lines, so `dcgan X` shows exactly what the Python API's result holds.
"""

from __future__ import annotations

import sys

import typer

from ..core.errors import UsageError
from ..core.files import check_file_target, check_folder_path, check_outputs
from . import options as opt
from .console import OneLineErrors, cli_errors, emit, follow, note, progress, say, training_reporter

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


def _device(name: str):
    from ..core.device import select_device

    return select_device(name)


# --- train


@app.command()
@cli_errors
def train(
    dataset: opt.TrainDataset = None,
    data_root: opt.Root = None,
    size: opt.TrainSize = None,
    channels: opt.Channels = None,
    preset: opt.Preset = None,
    recipe: opt.Recipe = None,
    config: opt.Config = None,
    epochs: opt.Epochs = None,
    max_steps: opt.MaxSteps = None,
    kimg: opt.Kimg = None,
    batch_size: opt.TrainBatchSize = None,
    lr: opt.Lr = None,
    beta1: opt.Beta1 = None,
    d_lr: opt.DLr = None,
    label_smoothing: opt.LabelSmoothing = None,
    instance_noise: opt.InstanceNoise = None,
    spectral_norm: opt.SpectralNorm = None,
    g_steps: opt.GSteps = None,
    z_dist: opt.ZDist = None,
    z_scale: opt.ZScale = None,
    nz: opt.Nz = None,
    ngf: opt.Ngf = None,
    ndf: opt.Ndf = None,
    g_act: opt.GAct = None,
    d_act: opt.DAct = None,
    batch_norm: opt.BatchNorm = None,
    downsample: opt.Downsample = None,
    channels_last: opt.ChannelsLast = None,
    precision: opt.Precision = None,
    compile_: opt.Compile = None,
    nproc: opt.Nproc = None,
    sync_bn: opt.SyncBn = None,
    seed: opt.TrainSeed = None,
    limit: opt.Limit = None,
    log_every: opt.LogEvery = None,
    keep: opt.Keep = None,
    ema: opt.TrainEma = None,
    ema_decay: opt.EmaDecay = None,
    eval_every: opt.EvalEvery = None,
    eval_n: opt.EvalN = None,
    eval_features: opt.EvalFeatures = None,
    eval_metric: opt.EvalMetric = None,
    tensorboard: opt.Tensorboard = None,
    device: opt.Device = "auto",
    out_dir: opt.OutDir = None,
    resume: opt.Resume = None,
    download: opt.TrainDownload = False,
    cache_dir: opt.Cache = None,
):
    """Train a DCGAN. Example: dcgan train --dataset shapes --max-steps 800 --out runs/demo

    Many GPUs or nodes: torchrun --nproc-per-node N -m dcgan_cli train ... (or --nproc N here)."""
    from ..training import distributed

    if nproc is not None:
        raise typer.Exit(distributed.launch(nproc, sys.argv))
    world, dev = distributed.start(_device(device))
    if not world.main:
        follow(world.rank)
    try:
        from ..core.configs import split_flags
        from ..training import plan_run
        from ..training import train as run_plan
        from ..training.stopping import GracefulStop

        with progress("preparing data") as bar:
            model, settings = split_flags(locals())
            plan = plan_run(dataset=dataset, preset=preset, recipe=recipe, config_file=config, out=out_dir, resume=resume,
                            data_root=data_root, cache_dir=cache_dir, download=download, channels=channels, on_progress=bar,
                            model=model, train=settings, world=world)
        for line in plan.notes:
            note(f"note: {line}")
        note(plan.describe(dev))
        with GracefulStop(data_parallel=world.active, on_note=note) as stop:
            try:  # the handler stays in place until the result is shown: a second Ctrl-C is always ours
                with progress("training") as bar:
                    result = run_plan(plan, device=dev, on_step=training_reporter(bar), should_stop=stop)
                if world.main:
                    emit(result, to_stderr=result.interrupted)
            except KeyboardInterrupt:
                note(plan.abort_note())
                raise typer.Exit(130) from None
        raise typer.Exit(result.exit_code)
    finally:
        distributed.stop()


# --- sample, interpolate, info


@app.command()
@cli_errors
def sample(
    ckpt: opt.Ckpt = None,
    n: opt.N = None,
    seeds: opt.Seeds = None,
    out_path: opt.Out = None,
    individual: opt.SampleIndividual = None,
    nrow: opt.Nrow = None,
    fmt: opt.Fmt = "grid",
    trunc: opt.Trunc = 1.0,
    scale: opt.Scale = None,
    labels: opt.Labels = True,
    around: opt.Around = None,
    radius: opt.Radius = 0.3,
    read: opt.Read = False,
    data_root: opt.DataRootRead = None,
    ema: opt.Ema = None,
    device: opt.Device = "auto",
):
    """Generate images, each from its own seed (default seeds 0-63). Example: dcgan sample runs/demo --seeds 0-15"""
    from ..core.seeds import resolve_seeds
    from ..latent.sample import check_target
    from ..latent.sample import sample as draw

    check_target(fmt, out_path)
    with progress("generating, then reading" if read else "generating") as bar:
        result = draw(ckpt, resolve_seeds(n, seeds, 64), fmt=fmt, nrow=nrow, individual=individual, trunc=trunc, scale=scale,
                      labels=labels, ema=ema, around=around, radius=radius, read=read, device=_device(device),
                      data_root=data_root, on_progress=bar)
        emit(result, out=out_path)


@app.command()
@cli_errors
def info(
    ckpt: opt.Ckpt = None,
    as_json: opt.InfoAsJson = False,
):
    """Show what a checkpoint holds: model, training settings, data set, progress."""
    from ..core.info import checkpoint_info

    emit(checkpoint_info(ckpt), as_json=as_json)


@app.command()
@cli_errors
def interpolate(
    ckpt: opt.Ckpt = None,
    steps: opt.Steps = 9,
    from_seed: opt.FromSeed = "0",
    to_seed: opt.ToSeed = "1",
    rows: opt.Rows = 1,
    through: opt.Through = None,
    method: opt.InterpolateMethod = None,
    out_path: opt.Out = None,
    gif: opt.Gif = None,
    trunc: opt.Trunc = 1.0,
    ema: opt.Ema = None,
    device: opt.Device = "auto",
):
    """Walk through latent space between seeds. Example: dcgan interpolate runs/demo --steps 9 --rows 4 --gif walk.gif"""
    from ..core.seeds import parse_seeds
    from ..latent.interpolate import interpolate as walk
    from ..latent.interpolate import row_ends

    check_outputs(out_path)
    path = parse_seeds(through, "--through") if through is not None else None
    pairs = row_ends(from_seed, to_seed, rows) if through is None else None
    result = walk(ckpt, pairs=pairs, through=path, steps=steps, method=method, gif=gif, trunc=trunc, ema=ema,
                  device=_device(device))
    emit(result, out=out_path)


# --- arithmetic


@app.command()
@cli_errors
def arithmetic(
    args: opt.CkptAndExpression = None,
    ckpt_opt: opt.CkptOption = None,
    method: opt.ArithmeticMethod = None,
    out_path: opt.Out = None,
    individual: opt.ArithmeticIndividual = None,
    probe: opt.Probe = False,
    seed: opt.ArithmeticSeed = 0,
    variants: opt.Variants = 8,
    define: opt.Define = None,
    anchor: opt.Anchor = None,
    samples: opt.Samples = 16384,
    attr_images: opt.AttrImages = 30_000,
    json_path: opt.ArithmeticJsonPath = None,
    cache_dir: opt.Cache = None,
    data_root: opt.Root = None,
    ema: opt.Ema = None,
    device: opt.Device = "auto",
):
    """Latent vector arithmetic over named concepts, as in the paper's figure 7, with a verdict per attribute.

    Example: dcgan arithmetic runs/demo "red large circle - blue circle + blue square"

    Your own picture as the anchor: dcgan arithmetic runs/demo "red circle - red + blue" --anchor my_circle.png
    """
    from ..arithmetic.entry import arithmetic as evaluate_expression
    from ..arithmetic.entry import parse_define
    from ..arithmetic.expression import checkpoint_and_expression
    from ..arithmetic.separability import z_separability

    check_outputs(out_path, json_path)
    ckpt, expression = checkpoint_and_expression(list(args or []), ckpt_opt, probe)
    defines = dict(parse_define(d) for d in (define or []))
    common = dict(samples=samples, attr_images=attr_images, seed=seed, ema=ema, device=_device(device), data_root=data_root,
                  cache_dir=cache_dir)
    with progress("probing z" if not expression.strip() else "arithmetic") as bar:
        common["on_progress"] = lambda what, done, total: bar.update(done, total, what)
        if not expression.strip():
            result = z_separability(ckpt, **common)
        else:
            result = evaluate_expression(ckpt, expression, method=method, defines=defines, variants=variants, probe=probe,
                                         individual=individual, anchors=anchor, **common)
    emit(result, out=out_path, json_path=json_path)


# --- nn-search


@app.command("nn-search")
@cli_errors
def nn_search(
    ckpt: opt.Ckpt = None,
    n: opt.N = None,
    seeds: opt.Seeds = None,
    k: opt.K = 5,
    query: opt.Query = None,
    project: opt.ProjectQuery = False,
    split: opt.NnSearchSplit = "train",
    holdout: opt.Holdout = 256,
    out_path: opt.Out = None,
    json_path: opt.NnSearchJsonPath = None,
    chunk_size: opt.ChunkSize = None,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    ema: opt.Ema = None,
    device: opt.Device = "auto",
):
    """Find the training images nearest (squared L2) to generated samples (default seeds 0-7): is the GAN copying?

    Example: dcgan nn-search runs/demo --n 8 --k 5 --json nn.json
    """
    from ..core.seeds import resolve_seeds
    from ..search.nn_search import search

    check_outputs(out_path, json_path)
    if query and (n is not None or seeds is not None):
        raise UsageError("give --query images or --n/--seeds, not both")
    queries = list(query) if query else resolve_seeds(n, seeds, 8, limit=10_000)
    with progress(f"searching {split} images") as bar:
        result = search(ckpt, queries, k=k, split=split, holdout=holdout, chunk_size=chunk_size, device=_device(device),
                        data_root=data_root, cache_dir=cache_dir, ema=ema, project=project, on_progress=bar)
    emit(result, out=out_path, json_path=json_path)


@app.command()
@cli_errors
def project(
    args: opt.CkptAndImages = None,
    ckpt_opt: opt.CkptOption = None,
    out_path: opt.ProjectOut = None,
    steps: opt.ProjectSteps = 200,
    starts: opt.Starts = 4,
    encoder: opt.UseEncoder = True,
    train_encoder: opt.TrainEncoder = False,
    encoder_steps: opt.EncoderSteps = 1000,
    video: opt.Video = False,
    json_path: opt.ProjectJsonPath = None,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    ema: opt.Ema = None,
    device: opt.Device = "auto",
):
    """Find the z from which G draws your own images; writes reconstructions and z files. Example: dcgan project runs/demo a.png

    Then: dcgan interpolate runs/demo --from a.png --to b.z.safetensors
    """
    from ..projection.project import checkpoint_and_images, project_images

    check_outputs(json_path)
    if out_path is not None:
        check_folder_path(out_path, "--out")  # before minutes of work, not after
    ckpt, images = checkpoint_and_images(args or [], ckpt_opt)
    with progress("projecting") as bar:
        result = project_images(ckpt, images, steps=steps, starts=starts, encoder=encoder, train=train_encoder,
                                encoder_steps=encoder_steps, video=video, ema=ema, device=_device(device), data_root=data_root,
                                cache_dir=cache_dir, on_progress=lambda what, done, total: bar.update(done, total, what))
    emit(result, out=out_path, json_path=json_path)


# --- plot


@app.command()
@cli_errors
def plot(
    run: opt.RunArg = None,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
):
    """Draw a run's curves, its progress GIF and real vs fake, into RUN/plots/. Example: dcgan plot runs/demo"""
    from ..training.plots import plot_checkpoint_run

    pictures = plot_checkpoint_run(run, data_root=data_root, cache_dir=cache_dir)
    for line in pictures.notes:
        note(f"note: {line}")
    emit(pictures)


# --- evaluate


@app.command()
@cli_errors
def evaluate(
    ckpt: opt.Ckpt = None,
    images: opt.Images = None,
    real: opt.Real = None,
    split: opt.EvaluateSplit = "train",
    metrics: opt.Metrics = "fid,kid,pr",
    n: opt.EvaluateN = None,
    features: opt.EvaluateFeatures = None,
    batch_size: opt.EvaluateBatchSize = 64,
    ema: opt.Ema = None,
    json_path: opt.EvaluateJsonPath = None,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    device: opt.Device = "auto",
):
    """Measure sample quality: FID, KID, precision and recall, with the protocol. Example: dcgan evaluate runs/demo --n 2048

    Two folders with no checkpoint: dcgan evaluate --images fakes/ --real reals/ --features inception
    """
    from ..evaluation.evaluate import evaluate as measure
    from ..evaluation.evaluate import parse_metrics

    check_file_target(json_path, "--json")
    chosen = parse_metrics(metrics)
    with progress("evaluating") as bar:
        result = measure(ckpt, images=images, real=real, split=split, metrics=chosen, n=n, features=features,
                         batch_size=batch_size, ema=ema, device=_device(device), data_root=data_root, cache_dir=cache_dir,
                         on_progress=lambda what, done, total: bar.update(done, total, what))
    emit(result, json_path=json_path)


# --- probe


@app.command()
@cli_errors
def probe(
    ckpt: opt.Ckpt = None,
    dataset: opt.ProbeDataset = None,
    target: opt.Target = None,
    labels_per_class: opt.LabelsPerClass = 1000,
    repeats: opt.Repeats = 1,
    test_n: opt.TestN = 10_000,
    json_path: opt.ProbeJsonPath = None,
    seed: opt.ProbeSeed = 0,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    device: opt.Device = "auto",
):
    """Is D a good representation? The paper's linear probe of D's features, against pixels and a random D.
    Example: dcgan probe runs/mnist --labels-per-class 100"""
    from ..paper.probe import probe_checkpoint

    check_file_target(json_path, "--json")
    with progress("probing") as bar:
        result = probe_checkpoint(ckpt, dataset=dataset, data_root=data_root, cache_dir=cache_dir, target=target,
                                  labels_per_class=labels_per_class or None, repeats=repeats, test_n=test_n, seed=seed,
                                  device=_device(device), on_progress=bar)
    emit(result, json_path=json_path)


# --- ablate


@app.command()
@cli_errors
def ablate(
    ckpt: opt.Ckpt = None,
    concept: opt.Concept = ...,
    n: opt.N = None,
    seeds: opt.Seeds = None,
    bank: opt.Bank = 2048,
    out_path: opt.Out = None,
    json_path: opt.AblateJsonPath = None,
    ema: opt.Ema = None,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    device: opt.Device = "auto",
):
    """Forgetting to draw (paper 6.3.1): drop the G feature maps that carry a concept, with and without, side by side.
    Example: dcgan ablate runs/demo --concept triangle"""
    from ..core.seeds import resolve_seeds
    from ..paper.ablate import ablate as forget

    check_outputs(out_path, json_path)
    shown = resolve_seeds(n, seeds, 16, limit=256)
    with progress("ablating") as bar:
        result = forget(ckpt, concept, n=bank, seeds=shown, ema=ema, data_root=data_root, cache_dir=cache_dir,
                        device=_device(device), on_progress=lambda what, done, total: bar.update(done, total, what))
    emit(result, out=out_path, json_path=json_path)


# --- explain


@app.command()
@cli_errors
def explain(
    ckpt: opt.Ckpt = None,
    n: opt.ExplainN = 512,
    features: opt.ExplainFeatures = 6,
    per: opt.Per = 8,
    out_path: opt.Out = None,
    json_path: opt.ExplainJsonPath = None,
    seed: opt.ExplainSeed = 0,
    data_root: opt.Root = None,
    cache_dir: opt.Cache = None,
    device: opt.Device = "auto",
):
    """What D looks at (paper fig. 5): guided backpropagation of D's last-block features on real images, trained vs random D.
    Example: dcgan explain runs/demo"""
    from ..paper.explain import explain_checkpoint

    check_outputs(out_path, json_path)
    result = explain_checkpoint(ckpt, n=n, features=features, per=per, seed=seed, data_root=data_root, cache_dir=cache_dir,
                                device=_device(device))
    emit(result, out=out_path, json_path=json_path)


@app.command()
@cli_errors
def explore(
    ckpt: opt.Ckpt = None,
    host: opt.Host = "127.0.0.1",
    port: opt.Port = 8765,
    browser: opt.Browser = True,
    device: opt.Device = "auto",
):
    """The run in a browser: samples, sliders, interpolation, arithmetic, your images. Example: dcgan explore runs/demo"""
    from ..explore.server import serve

    serve(ckpt, host=host, port=port, open_browser=browser, device=_device(device), say=say)


# --- data


@data_app.command("prepare")
@cli_errors
def data_prepare(
    dataset: opt.DataPrepareDataset,
    size: opt.DataPrepareSize,
    data_root: opt.Root = None,
    split: opt.DataPrepareSplit = "train",
    channels: opt.Channels = None,
    cache_dir: opt.Cache = None,
    download: opt.DataPrepareDownload = False,
    rebuild: opt.Rebuild = False,
    workers: opt.Workers = None,
):
    """Decode, crop and resize a data set once into a memory-mapped cache.
    Example: dcgan data prepare --dataset celeba --size 64"""
    from ..data.cache import prepare

    with progress(f"preparing {dataset} {size}px") as bar:
        emit(prepare(dataset, size, root=data_root, split=split, cache_root=cache_dir, download=download, rebuild=rebuild,
                     workers=workers, channels=channels, on_progress=bar))


@data_app.command("info")
@cli_errors
def data_info(
    cache_dir: opt.Cache = None,
    as_json: opt.DataInfoAsJson = False,
):
    """List prepared caches with their counts, sizes and labels."""
    from ..data.cache import cache_listing

    emit(cache_listing(cache_dir), as_json=as_json)


@app.callback()
def root(version: opt.Version = False):
    """Train Deep Convolutional GANs and explore what they learned."""


def main() -> None:
    try:
        app(prog_name="dcgan")
    except KeyboardInterrupt:
        note("aborted")
        sys.exit(130)


if __name__ == "__main__":
    main()
