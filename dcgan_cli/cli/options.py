"""Every flag of the `dcgan` commands: its type, its choices and its help, in one place.

cli.py's commands annotate their parameters with these (`epochs: opt.Epochs = None`); Typer
reads the help and choices from here, so --help and shell completion stay in step with configs.py.
Defaults stay in the command signatures, where a reader looks for them.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Literal

import typer

from ..core.configs import (
    ARITHMETIC_METHODS,
    D_ACTIVATIONS,
    DATASETS,
    DOWNSAMPLE,
    EVAL_METRICS,
    FEATURES,
    G_ACTIVATIONS,
    PATH_METHODS,
    PRECISIONS,
    PRESETS,
    RECIPES,
    SPLITS,
    Z_DISTS,
)


def show_version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"dcgan-cli {__version__}")
        raise typer.Exit()


# Choices as Literal types: --help lists them and shell completion offers them.
Dataset = Literal[DATASETS]  # type: ignore[valid-type]
Preset = Literal[tuple(PRESETS)]  # type: ignore[valid-type]
GAct = Literal[G_ACTIVATIONS]  # type: ignore[valid-type]
DAct = Literal[D_ACTIVATIONS]  # type: ignore[valid-type]
Down = Literal[DOWNSAMPLE]  # type: ignore[valid-type]
ZDist = Literal[Z_DISTS]  # type: ignore[valid-type]
Split = Literal[SPLITS]  # type: ignore[valid-type]
Method = Literal[PATH_METHODS]  # type: ignore[valid-type]
ArithMethod = Literal[ARITHMETIC_METHODS]  # type: ignore[valid-type]
Features = Literal[FEATURES]  # type: ignore[valid-type]
EvalMetric = Literal[EVAL_METRICS]  # type: ignore[valid-type]
Format = Literal["grid", "png", "npz"]
Recipe = Literal[tuple(RECIPES)]  # type: ignore[valid-type]
Precision = Literal[PRECISIONS]  # type: ignore[valid-type]

Device = Annotated[str, typer.Option("--device", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")]
Ckpt = Annotated[
    Path | None, typer.Argument(help="Checkpoint file or run folder; default: the newest run under ./runs.", show_default=False)
]
N = Annotated[int | None, typer.Option("--n", help="Images from seeds 0..N-1 (short for --seeds 0-(N-1)).", show_default=False)]
Seeds = Annotated[
    str | None, typer.Option("--seeds", help="Seeds: a range 0-63, a list 3,7,9, or both. Not with --n.", show_default=False)
]
Out = Annotated[
    Path | None,
    typer.Option("--out", "--outdir", help="File to write (default: in the run folder, named by the parameters).",
                 show_default=False),
]
Cache = Annotated[
    Path | None,
    typer.Option(help="Decoded-data cache folder (default $DCGAN_CACHE or ~/.cache/dcgan/cache).", show_default=False),
]
Ema = Annotated[
    bool | None,
    typer.Option("--ema/--no-ema", help="Use the EMA generator (default: when the checkpoint has one).", show_default=False),
]
Root = Annotated[
    Path | None, typer.Option(help="Where the data set lies (default $DCGAN_DATA or ~/.cache/dcgan/data).", show_default=False)
]

TrainDataset = Annotated[Dataset | None, typer.Option(help="The data set (default: shapes, built in).", show_default=False)]
ProbeDataset = Annotated[
    Dataset | None,
    typer.Option(
        help="Probe on this data set (default: the one the checkpoint was trained on).",
        show_default=False,
    ),
]
DataPrepareDataset = Annotated[Dataset, typer.Option(help="The data set.")]
TrainSize = Annotated[
    int | None,
    typer.Option(
        help="Image size: 28, 32, 64 or 128 (default: the preset's).",
        show_default=False,
    ),
]
DataPrepareSize = Annotated[int, typer.Option(help="Image size: 28, 32, 64 or 128.")]
Channels = Annotated[int | None, typer.Option(help="1 (grey) or 3 (colour); default: the data set's.", show_default=False)]
Preset = Annotated[Preset | None, typer.Option(help="Named architecture (default: the data set's).", show_default=False)]
Recipe = Annotated[
    Recipe | None,
    typer.Option(
        help="paper: Radford et al.'s procedure exactly (every stabiliser off).",
        show_default=False,
    ),
]
Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file with \\[model] and \\[train] tables.",
        show_default=False,
    ),
]
Epochs = Annotated[
    int | None,
    typer.Option(
        help="Epochs in all (default: as many as the data set's --kimg needs, e.g. 10 for shapes).",
        show_default=False,
    ),
]
MaxSteps = Annotated[int | None, typer.Option(help="Train exactly this many steps in all.", show_default=False)]
Kimg = Annotated[
    int | None,
    typer.Option(
        help="Train on this many thousand images (default: the data set's, e.g. shapes 80).",
        show_default=False,
    ),
]
TrainBatchSize = Annotated[int | None, typer.Option(help="Batch size (default: the data set's, 64 for shapes, else 128).",
                                                     show_default=False)]
EvaluateBatchSize = Annotated[int, typer.Option(help="Images per feature batch.")]
Lr = Annotated[float | None, typer.Option(help="Adam learning rate (default 2e-4).", show_default=False)]
Beta1 = Annotated[float | None, typer.Option(help="Adam beta1 (default 0.5).", show_default=False)]
DLr = Annotated[
    float | None,
    typer.Option(
        help="D's learning rate, if not --lr (two time-scale update rule).",
        show_default=False,
    ),
]
LabelSmoothing = Annotated[
    float | None,
    typer.Option(
        help="One-sided label smoothing: D's target for real images is 1 - this.",
        show_default=False,
    ),
]
InstanceNoise = Annotated[
    float | None,
    typer.Option(
        help="Std of Gaussian noise on D's inputs, annealed to 0 over the run.",
        show_default=False,
    ),
]
SpectralNorm = Annotated[
    bool | None,
    typer.Option(
        "--spectral-norm/--no-spectral-norm",
        help="Spectral normalisation in D (replaces its batch norm).",
        show_default=False,
    ),
]
GSteps = Annotated[int | None, typer.Option(help="G updates per D update (default 1).", show_default=False)]
ZDist = Annotated[ZDist | None, typer.Option(help="The latent prior (default normal).", show_default=False)]
ZScale = Annotated[float | None, typer.Option(help="Std of a normal z, half-width of a uniform z.", show_default=False)]
Nz = Annotated[int | None, typer.Option(help="Latent size (default 100).", show_default=False)]
Ngf = Annotated[int | None, typer.Option(help="Generator width.", show_default=False)]
Ndf = Annotated[int | None, typer.Option(help="Discriminator width.", show_default=False)]
GAct = Annotated[GAct | None, typer.Option(help="G's hidden activation (default relu).", show_default=False)]
DAct = Annotated[DAct | None, typer.Option(help="D's hidden activation (default leaky_relu).", show_default=False)]
BatchNorm = Annotated[
    bool | None,
    typer.Option(
        "--batch-norm/--no-batch-norm",
        help="Batch norm in G and D.",
        show_default=False,
    ),
]
Downsample = Annotated[Down | None, typer.Option(help="D's downsampling (default strided).", show_default=False)]
ChannelsLast = Annotated[
    bool | None,
    typer.Option(
        "--channels-last/--no-channels-last",
        help="NHWC memory layout (default: on with the bf16 that --precision auto chooses).",
        show_default=False,
    ),
]
Precision = Annotated[
    Precision | None,
    typer.Option(
        help="auto (default: bf16 autocast + channels_last where the device computes bf16 natively, a CUDA card "
        "or a CPU with avx512_bf16 or AMX; fp32 elsewhere), fp32, bf16 (autocast) or fp16 (autocast + gradient scaling, CUDA).",
        show_default=False,
    ),
]
Compile = Annotated[
    bool | None,
    typer.Option(
        "--compile/--no-compile",
        help="torch.compile G and D (slow first steps, faster after).",
        show_default=False,
    ),
]
Nproc = Annotated[
    int | None,
    typer.Option(
        help="Train in N data-parallel processes on this machine (torchrun's launcher; one per GPU).",
        show_default=False,
    ),
]
SyncBn = Annotated[
    bool | None,
    typer.Option(
        "--sync-bn/--no-sync-bn",
        help="Data-parallel runs on CUDA: batch-norm statistics over all processes.",
        show_default=False,
    ),
]
TrainSeed = Annotated[int | None, typer.Option(help="Seed for init, data order and z (default 0).", show_default=False)]
ArithmeticSeed = Annotated[int, typer.Option(help="Seed for the labelled sample bank, the anchors and exemplars.")]
ProbeSeed = Annotated[int, typer.Option(help="Seed for the labelled draws, the split and the random D.")]
ExplainSeed = Annotated[int, typer.Option(help="Seed for the image subset and the random D.")]
Limit = Annotated[int | None, typer.Option(help="Train on the first N images only.", show_default=False)]
LogEvery = Annotated[
    int | None,
    typer.Option(
        help="Write metrics (and, off a terminal, a progress line) every N steps (default 10).",
        show_default=False,
    ),
]
Keep = Annotated[int | None, typer.Option(help="Checkpoints kept in the run folder (default 3).", show_default=False)]
TrainEma = Annotated[
    bool | None,
    typer.Option(
        "--ema/--no-ema",
        help="Keep an EMA generator beside G (used by every command when present).",
        show_default=False,
    ),
]
EmaDecay = Annotated[
    float | None,
    typer.Option(
        help="The EMA's decay per step (default 0.999, warmed up).",
        show_default=False,
    ),
]
EvalEvery = Annotated[
    int | None,
    typer.Option(
        help="Measure FID, KID, precision and recall every N steps; keep best.safetensors.",
        show_default=False,
    ),
]
EvalN = Annotated[int | None, typer.Option(help="Images per side for --eval-every (default 2048).", show_default=False)]
EvalFeatures = Annotated[
    Features | None,
    typer.Option(
        help="Feature space for --eval-every (default: domain for labelled data).",
        show_default=False,
    ),
]
EvalMetric = Annotated[
    EvalMetric | None,
    typer.Option(
        help="What best.safetensors is best by (default fid).",
        show_default=False,
    ),
]
Tensorboard = Annotated[
    bool | None,
    typer.Option(
        "--tensorboard/--no-tensorboard",
        help="Also write TensorBoard events into RUN/tensorboard/.",
        show_default=False,
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Run folder (default runs/<dataset>-<size>-<time>).",
        show_default=False,
    ),
]
Resume = Annotated[Path | None, typer.Option(help="Run folder or checkpoint to continue exactly.", show_default=False)]
TrainDownload = Annotated[bool, typer.Option(help="Download the data set if it is missing (where its host allows).")]
DataPrepareDownload = Annotated[bool, typer.Option(help="Download the data set if it is missing.")]
SampleIndividual = Annotated[
    Path | None,
    typer.Option(
        help="Also write each image to this folder as seed-N.png.",
        show_default=False,
    ),
]
ArithmeticIndividual = Annotated[
    Path | None,
    typer.Option(
        help="Also write each result image to this folder (result-N.png), for any other judge.",
        show_default=False,
    ),
]
Nrow = Annotated[int | None, typer.Option(help="Images per grid row (default: square).", show_default=False)]
Fmt = Annotated[
    Format,
    typer.Option(
        "--format",
        help="grid: one picture; png: a folder of seed-N.png; npz: one array file (for external tools).",
    ),
]
InfoAsJson = Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")]
DataInfoAsJson = Annotated[bool, typer.Option("--json", help="Print the list as JSON.")]
Steps = Annotated[int, typer.Option(help="Frames per path, ends included.")]
FromSeed = Annotated[str, typer.Option("--from", help="The first end: a seed, an image (projected first) or a z file.")]
ToSeed = Annotated[str, typer.Option("--to", help="The last end: a seed, an image (projected first) or a z file.")]
Rows = Annotated[int, typer.Option(help="Independent rows; row i runs from seed FROM+2i to TO+2i.")]
Through = Annotated[
    str | None,
    typer.Option(
        help="One path through several seeds, e.g. 3,8,12,3 (loops).",
        show_default=False,
    ),
]
InterpolateMethod = Annotated[
    Method | None,
    typer.Option(
        help="Path (default: slerp for normal z, lerp for uniform z).",
        show_default=False,
    ),
]
ArithmeticMethod = Annotated[
    ArithMethod | None,
    typer.Option(
        show_default=False,
        help=(
            "guided: each anchor led by a classifier on z to every asked value; anchored: samples of the first term"
            " plus the others' means taken where the anchor is; boundary: InterFaceGAN's linear boundaries; paper:"
            " sums of 3-exemplar means (Radford et al.); mean: sums of all matches' means."
            " [default: guided; anchored when a later phrase is defined by seeds or the data set has no labels]"
        ),
    ),
]
Gif = Annotated[Path | None, typer.Option(help="Also write an animated GIF.", show_default=False)]
CkptAndExpression = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[CKPT] EXPRESSION",
        help=(
            'Optional checkpoint or run folder, then terms joined by + and -, e.g. "smiling woman - woman + man".'
        ),
        show_default=False,
    ),
]
CkptOption = Annotated[
    Path | None,
    typer.Option(
        "--ckpt",
        help="The checkpoint, as an option (same as the first argument).",
        show_default=False,
    ),
]
Probe = Annotated[
    bool,
    typer.Option(
        "--probe",
        help=(
            'Report how linearly z holds each attribute (which concepts arithmetic can move); the expression is '
            'then optional.'
        ),
    ),
]
Variants = Annotated[
    int,
    typer.Option(
        help="Results beyond the first: more anchors (anchored) or noisy copies (paper, mean).",
    ),
]
Define = Annotated[
    list[str] | None,
    typer.Option(
        "--define",
        help="Define a concept from seeds: 'smiling woman=12,45,77'.",
        show_default=False,
    ),
]
Samples = Annotated[
    int,
    typer.Option(
        help=(
            'Generated samples labelled to find concept vectors (the anchored method takes means per context, so '
            'it wants many).'
        ),
    ),
]
AttrImages = Annotated[int, typer.Option(help="Real labelled images the attribute model learns from (a tenth held out).")]
ArithmeticJsonPath = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write what was found as JSON: expected, seen and match per result image.",
        show_default=False,
    ),
]
NnSearchJsonPath = Annotated[Path | None, typer.Option("--json", help="Write the full report as JSON.", show_default=False)]
EvaluateJsonPath = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write the figures and their protocol as JSON.",
        show_default=False,
    ),
]
ProbeJsonPath = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write the figures and their protocol as JSON.",
        show_default=False,
    ),
]
AblateJsonPath = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write the dropped maps and the shares as JSON.",
        show_default=False,
    ),
]
ExplainJsonPath = Annotated[Path | None, typer.Option("--json", help="Write the figures as JSON.", show_default=False)]
K = Annotated[int, typer.Option("--k", help="Neighbours per query.")]
Query = Annotated[
    list[Path] | None,
    typer.Option(
        "--query",
        help="Image file(s) to search for instead of samples.",
        show_default=False,
    ),
]
NnSearchSplit = Annotated[Split, typer.Option(help="Search the train or the test split.")]
EvaluateSplit = Annotated[Split, typer.Option(help="The real data split to compare with.")]
DataPrepareSplit = Annotated[Split, typer.Option(help="Which split.")]
Holdout = Annotated[int, typer.Option(help="Unseen real images for the memorization statistic (0: skip).")]
ChunkSize = Annotated[
    int | None,
    typer.Option(
        help="Training images per matrix product (default: 256 MB of float32).",
        show_default=False,
    ),
]
RunArg = Annotated[
    Path | None,
    typer.Argument(
        help="Run folder (or a checkpoint in it); default: the newest run under ./runs.",
        show_default=False,
    ),
]
Images = Annotated[
    Path | None,
    typer.Option(
        "--images",
        help="A folder of generated pictures instead of the checkpoint's samples.",
        show_default=False,
    ),
]
Real = Annotated[
    Path | None,
    typer.Option(
        "--real",
        help="A folder of real pictures instead of the checkpoint's data split.",
        show_default=False,
    ),
]
Metrics = Annotated[str, typer.Option(help="Comma-separated: fid, kid, pr (precision and recall).")]
EvaluateN = Annotated[
    int | None,
    typer.Option(
        "--n",
        help="Images per side: generated from seeds 0..N-1, real a fixed random subset. "
        "[default: 10000 on a GPU (the standard protocol), 2048 elsewhere (a first look)]",
        show_default=False,
    ),
]
ExplainN = Annotated[int, typer.Option("--n", help="Real test images to choose from.")]
EvaluateFeatures = Annotated[
    Features | None,
    typer.Option(
        help="Feature space (default: domain for labelled data sets, else inception).",
        show_default=False,
    ),
]
ExplainFeatures = Annotated[int, typer.Option(help="D's first N last-block features, a row each.")]
Target = Annotated[
    str | None,
    typer.Option(
        help=(
            'What to classify: a label of a class group (its group) or a binary attribute (default: the first '
            'group, e.g. the digit).'
        ),
        show_default=False,
    ),
]
LabelsPerClass = Annotated[int, typer.Option(help="Labelled training images per class; 0: all of them.")]
Repeats = Annotated[int, typer.Option(help="Draws of the labelled images (mean and spread reported).")]
TestN = Annotated[int, typer.Option("--test-n", help="Test images at most (a fixed random subset).")]
Concept = Annotated[str, typer.Option(help="A label of the data set to make G forget, e.g. triangle or red.")]
Bank = Annotated[int, typer.Option(help="Generated samples to find the maps in and to measure on.")]
Per = Annotated[int, typer.Option(help="Images per feature: those that excite it most.")]
Rebuild = Annotated[bool, typer.Option(help="Rebuild even when the cache is up to date.")]
Workers = Annotated[int | None, typer.Option(help="Decoding threads (default: all cores).", show_default=False)]
Version = Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True, help="Show the version.")]
Around = Annotated[int | None, typer.Option(help="More like this: each --seeds seed is a small step around this "
                                          "seed's z instead of a sample of its own.")]
Radius = Annotated[float, typer.Option(help="With --around: how far each step goes (0: the seed itself; 1: unrelated).")]
Read = Annotated[
    bool,
    typer.Option("--read", help="Also print what the data set's attribute classifier reads in each sample "
                 "(trained once on first use, then cached).", rich_help_panel="Reading"),
]
DataRootRead = Annotated[Path | None, typer.Option("--data-root", help="Where the data set's files are, for --read "
                                                   "when its cache is gone.", rich_help_panel="Reading")]
Labels = Annotated[
    bool,
    typer.Option("--labels/--no-labels", help="Caption each grid tile with its seed (tiles of 64 px or more); "
                 "--no-labels for a plain grid."),
]
Scale = Annotated[
    int | None,
    typer.Option("--scale", help="Enlarge the grid's tiles N times, nearest (default: to 128 px or more; 1: the model's size).",
                 show_default=False),
]
Trunc = Annotated[
    float,
    typer.Option("--trunc", help="Truncation psi: z scaled toward the prior's mean (1: none; 0.7 trades variety for fidelity)."),
]


# Train's ~50 flags in panels, so --help reads by topic.
PANELS = {
    "Data": [TrainDataset, Root, TrainSize, Channels, Limit, TrainDownload, Cache],
    "Model": [Preset, Nz, Ngf, Ndf, GAct, DAct, BatchNorm, Downsample, ZDist, ZScale, SpectralNorm],
    "Schedule": [Recipe, Config, Epochs, MaxSteps, Kimg, TrainBatchSize, Lr, Beta1, GSteps, TrainSeed],
    "Stabilisers": [DLr, LabelSmoothing, InstanceNoise, TrainEma, EmaDecay],
    "Evaluation": [EvalEvery, EvalN, EvalFeatures, EvalMetric],
    "Scale and speed": [Nproc, SyncBn, Precision, Compile, ChannelsLast],
    "Output": [OutDir, Resume, Keep, LogEvery, Tensorboard],
}
for _panel, _options in PANELS.items():
    for _option in _options:
        typing.get_args(_option)[1].rich_help_panel = _panel

# --- project
CkptAndImages = Annotated[
    list[str] | None,
    typer.Argument(metavar="[CKPT] IMAGE...", help="Optional checkpoint or run folder, then one or more image files.",
                   show_default=False),
]
ProjectOut = Annotated[
    Path | None,
    typer.Option("--out", "--outdir", help="Folder to write into (default: RUN/project/step-N-NAME/).", show_default=False),
]
ProjectSteps = Annotated[int, typer.Option("--steps", help="Optimisation steps per start; 0: the encoder's guess alone.")]
Starts = Annotated[int, typer.Option(help="Starts optimised per image (the encoder's guess and the best random z).")]
UseEncoder = Annotated[
    bool, typer.Option("--encoder/--no-encoder", help="Start from this generator's encoder when one was trained."),
]
TrainEncoder = Annotated[
    bool, typer.Option("--train-encoder", help="Train this generator's encoder first if it has none (once; then cached)."),
]
EncoderSteps = Annotated[int, typer.Option(help="Training steps of a new encoder.")]
Video = Annotated[bool, typer.Option("--video", help="Also write the optimisation's progress as progress.gif (and .mp4).")]
ProjectJsonPath = Annotated[
    Path | None, typer.Option("--json", help="Also write the losses and distances here (projection.json is always written).",
                              show_default=False),
]
ProjectQuery = Annotated[
    bool, typer.Option("--project", help="Also search each --query image's reconstruction by G (projected first)."),
]
Anchor = Annotated[
    list[Path] | None,
    typer.Option("--anchor", help="Start from your own image(s) (projected into G first) or z files; the first term "
                 "says what they show.", show_default=False),
]
Host = Annotated[str, typer.Option(help="Address to serve on; the default keeps the page to this machine "
                                   "(reach it from elsewhere through an SSH port forward).")]
Port = Annotated[int, typer.Option(help="Port to serve on.")]
Browser = Annotated[bool, typer.Option("--browser/--no-browser",
                                       help="Open the page in this machine's browser, where it has one.")]
