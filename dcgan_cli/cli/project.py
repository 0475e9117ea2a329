"""`dcgan project`: `[CKPT] IMAGE...` into z, and back out through G."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..core.defaults import ENCODER_STEPS, PROJECT_STARTS, PROJECT_STEPS
from ..core.errors import UsageError
from ..core.files import check_folder_path, check_outputs
from .common import Cache, CkptOption, Device, Ema, Root, device, json_option, say_which_checkpoint
from .console import emit, progress

Args = Annotated[list[str] | None, typer.Argument(
    metavar="[CKPT] IMAGE...", help="Optional checkpoint or run folder, then one or more image files.", show_default=False)]
Out = Annotated[Path | None, typer.Option(
    "--out", "--outdir", help="Folder to write into (default: RUN/project/step-N-NAME/).", show_default=False)]
Steps = Annotated[int, typer.Option("--steps", help="Optimisation steps per start; 0: the encoder's guess alone.")]
Starts = Annotated[int, typer.Option(help="Starts optimised per image (the encoder's guess and the best random z).")]
Encoder = Annotated[bool, typer.Option("--encoder/--no-encoder",
                                       help="Start from this generator's encoder when one was trained.")]
TrainEncoder = Annotated[bool, typer.Option(
    "--train-encoder", help="Train this generator's encoder first if it has none (once; then cached).")]
EncoderSteps = Annotated[int, typer.Option(help="Training steps of a new encoder.")]
Video = Annotated[bool, typer.Option("--video", help="Also write the optimisation's progress as progress.gif (and .mp4).")]
JsonPath = json_option("Also write the losses and distances here (projection.json is always written).")


def checkpoint_and_images(args: list[str], ckpt_opt: Path | None) -> tuple[Path | None, list[Path]]:
    """`[CKPT] IMAGE...`: the first argument is the checkpoint when it is a run folder, a checkpoint
    file (not an image, not a z file) or a bundled model's name."""
    from .. import bundled
    from ..projection.zfiles import is_latent_file  # torch: only once a command runs

    paths = [Path(a) for a in args]
    first_is_ckpt = bool(paths) and (paths[0].is_dir() or (paths[0].suffix == ".safetensors" and not is_latent_file(paths[0]))
                                     or bundled.names_a_model(paths[0]))
    if first_is_ckpt:
        if ckpt_opt is not None:
            raise UsageError("give the checkpoint as the first argument or with --ckpt, not both")
        return paths[0], paths[1:]
    return ckpt_opt, paths


def project(
    args: Args = None, ckpt_opt: CkptOption = None, out_path: Out = None, steps: Steps = PROJECT_STEPS,
    starts: Starts = PROJECT_STARTS, encoder: Encoder = True, train_encoder: TrainEncoder = False,
    encoder_steps: EncoderSteps = ENCODER_STEPS, video: Video = False, json_path: JsonPath = None,
    data_root: Root = None, cache_dir: Cache = None, ema: Ema = None,
    device_name: Device = "auto",
):
    """Find the z from which G draws your own images; writes reconstructions and z files. Example: dcgan project runs/demo a.png

    Then: dcgan interpolate runs/demo --from a.png --to b.z.safetensors
    """
    from ..projection.project import project as find

    check_outputs(None, json_path)
    if out_path is not None:
        check_folder_path(out_path, "--out")  # before minutes of work, not after
    ckpt, images = checkpoint_and_images(args or [], ckpt_opt)
    say_which_checkpoint(ckpt)
    with progress("projecting") as bar:
        result = find(ckpt, images, steps=steps, starts=starts, encoder=encoder, train=train_encoder,
                      encoder_steps=encoder_steps, video=video, ema=ema, device=device(device_name), data_root=data_root,
                      cache_dir=cache_dir, on_progress=bar, stream=True, out=out_path)
    emit(result, out=out_path, json_path=json_path)
