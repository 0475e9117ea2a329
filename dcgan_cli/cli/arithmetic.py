"""`dcgan arithmetic`: `[CKPT] EXPRESSION` and the flags of the five methods."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from .. import bundled
from ..core.configs import ARITHMETIC_METHODS
from ..core.defaults import ATTRIBUTE_IMAGES, BANK_SAMPLES, VARIANTS
from ..core.errors import UsageError
from ..core.files import check_outputs
from .common import Cache, CkptOption, Device, Ema, Out, Root, device, json_option, say_which_checkpoint, seed_option
from .console import emit, progress

Args = Annotated[list[str] | None, typer.Argument(
    metavar="[CKPT] EXPRESSION", show_default=False,
    help='Optional checkpoint or run folder, then terms joined by + and -, e.g. "smiling woman - woman + man".')]
Method = Annotated[Literal[ARITHMETIC_METHODS] | None, typer.Option(show_default=False, help=(  # type: ignore[valid-type]
    "guided: each anchor led by a classifier on z to every asked value; anchored: samples of the first term plus the "
    "others' means taken where the anchor is; boundary: InterFaceGAN's linear boundaries; paper: sums of 3-exemplar means "
    "(Radford et al.); mean: sums of all matches' means. [default: guided; anchored when a later phrase is defined by "
    "seeds or the data set has no labels]"))]
Individual = Annotated[Path | None, typer.Option(
    help="Also write each result image to this folder (result-N.png), for any other judge.", show_default=False)]
Probe = Annotated[bool, typer.Option(
    "--probe", help="Report how linearly z holds each attribute (which concepts arithmetic can move); the expression is "
    "then optional.")]
Seed = seed_option("Seed for the labelled sample bank, the anchors and exemplars.")
Variants = Annotated[int, typer.Option(help="Results beyond the first: more anchors (anchored) or noisy copies (paper, mean).")]
Define = Annotated[list[str] | None, typer.Option(
    "--define", help="Define a concept from seeds: 'smiling woman=12,45,77'.", show_default=False)]
Anchor = Annotated[list[Path] | None, typer.Option(
    "--anchor", help="Start from your own image(s) (projected into G first) or z files; the first term says what they show.",
    show_default=False)]
Samples = Annotated[int, typer.Option(
    help="Generated samples labelled to find concept vectors (the anchored method takes means per context, so it wants many).")]
AttrImages = Annotated[int, typer.Option(help="Real labelled images the attribute model learns from (a tenth held out).")]
JsonPath = json_option("Write what was found as JSON: expected, seen and match per result image.")


def checkpoint_and_expression(args: list[str], ckpt_opt: Path | None, probe: bool) -> tuple[Path | None, str | None]:
    """`[CKPT] EXPRESSION` (or --ckpt CKPT EXPRESSION). The expression is None when --probe alone was asked."""
    if len(args) == 2:
        if ckpt_opt is not None:
            raise UsageError("give the checkpoint as the first argument or with --ckpt, not both")
        return Path(args[0]), args[1]
    if len(args) == 1 and ckpt_opt is None and (Path(args[0]).exists() or bundled.names_a_model(args[0])):
        if probe:  # `arithmetic CKPT --probe`
            return Path(args[0]), None
        raise UsageError(
            f'{args[0]} is a checkpoint; give an expression after it, e.g. "red circle - circle + square", or --probe')
    if len(args) == 1:
        return ckpt_opt, args[0]
    if not args and probe:
        return ckpt_opt, None
    raise UsageError(
        f'expected [CKPT] EXPRESSION, got {len(args)} arguments; quote the expression: "red circle - circle + square"')


def arithmetic(
    args: Args = None, ckpt_opt: CkptOption = None, method: Method = None, out_path: Out = None,
    individual: Individual = None, probe: Probe = False, seed: Seed = 0, variants: Variants = VARIANTS, define: Define = None,
    anchor: Anchor = None, samples: Samples = BANK_SAMPLES, attr_images: AttrImages = ATTRIBUTE_IMAGES,
    json_path: JsonPath = None,    cache_dir: Cache = None, data_root: Root = None, ema: Ema = None, device_name: Device = "auto",
):
    """Latent vector arithmetic over named concepts, as in the paper's figure 7, with a verdict per attribute.

    Example: dcgan arithmetic runs/demo "red large circle - blue circle + blue square"

    Your own picture as the anchor: dcgan arithmetic runs/demo "red circle - red + blue" --anchor my_circle.png
    """
    from ..vector_arithmetic.arithmetic import arithmetic as evaluate_expression
    from ..vector_arithmetic.arithmetic import parse_define
    from ..vector_arithmetic.separability import z_separability

    check_outputs(out_path, json_path)
    ckpt, expression = checkpoint_and_expression(list(args or []), ckpt_opt, probe)
    say_which_checkpoint(ckpt)
    common = dict(samples=samples, attr_images=attr_images, seed=seed, ema=ema, device=device(device_name),
                  data_root=data_root, cache_dir=cache_dir)
    with progress("probing z" if expression is None else "arithmetic") as bar:
        if expression is None:
            result = z_separability(ckpt, on_progress=bar, **common)
        else:
            result = evaluate_expression(ckpt, expression, method=method, defines=dict(parse_define(d) for d in define or []),
                                         variants=variants, probe=probe, individual=individual, anchors=anchor,
                                         on_progress=bar, **common)
    emit(result, out=out_path, json_path=json_path)
