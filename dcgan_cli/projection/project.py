"""`dcgan project`: a person's own images into the latent space, and back out through G.

Per image it writes the target, G's reconstruction and their difference side by side
(`NAME-projection.png`), the reconstruction alone at the model's size (`NAME-reconstruction.png`)
and its z (`NAME.z.safetensors`, which interpolate, arithmetic and nn-search read), plus one
overview, an optional progress animation and `projection.json` with the losses and distances.

The encoder that gives optimisation its first guess is trained once per generator and kept in
RUN/encoders/ (beside the checkpoint for a file on its own), keyed by the generator's fingerprint.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.defaults import ENCODER_STEPS, PROJECT_STARTS, PROJECT_STEPS
from ..core.errors import UsageError
from ..core.files import recorded_path, recorded_paths
from ..core.model import Generator, typical_norm
from ..core.progress import Progress
from ..core.results import Result, shown
from ..data.user_images import load_images
from .encoder import cached_encoder, encoder_for
from .optimise import Projection, ProjectSettings, find_z
from .scale import background_notes, reference
from .zfiles import SUFFIX, generator_fingerprint, is_latent_file, load_latents, save_latents

MAX_IMAGES = 1024
MAX_STEPS = 10_000
VIDEO_FRAMES = 24


def _names(paths: list[Path]) -> list[str]:
    """File stems, made unique against every input (a/x.png, b/x.png, x-2.png: x, x-3, x-2): each names
    its output files, so no picture's z file or reconstruction overwrites another's."""
    stems = [Path(p).name.split(".")[0] or "image" for p in paths]
    taken, used, out = set(stems), set(), []  # every input's own stem is reserved for it
    for stem in stems:
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}-{k}"
            if name in taken:
                name = stem  # another input's own name: try the next number
        used.add(name)
        out.append(name)
    return out


@dataclass
class ProjectionResult(Result):
    command = "project"
    checkpoint_path: Path
    step: int
    generator_name: str  # "EMA generator" or "G"
    fingerprint: str
    paths: list[Path]
    targets: torch.Tensor = field(repr=False)  # (N, C, S, S) in [-1, 1], as converted
    found: Projection = field(repr=False)
    method: str = "optimisation"  # "encoder alone", "optimisation", "encoder + optimisation"
    settings: ProjectSettings = field(default_factory=ProjectSettings)
    seconds: float = 0.0
    video: bool = False
    notes: list[str] = field(default_factory=list)
    streamed_to: Path | None = None  # the folder each image's files were written into as its batch finished
    scale: dict[str, float] | None = None  # medians held-out real images reach projected the same way (scale.py)
    prior_norm: float = 0.0  # the prior's typical |z|

    @property
    def names(self) -> list[str]:
        return _names(self.paths)

    def differences(self) -> torch.Tensor:
        """|target - reconstruction| in [-1, 1] picture units: black where they agree."""
        return (self.targets - self.found.images).abs() - 1

    def figure(self):
        from ..core.images import labelled_grid

        rows = [torch.stack([t, r, d]) for t, r, d in zip(self.targets, self.found.images, self.differences())]
        labels = [f"{shown(n)}  MSE {m:.4f}" for n, m in zip(self.names, self.found.pixel_mse.tolist())]
        return labelled_grid(rows, labels, ["target", "reconstruction", "|difference|"],
                             title=f"{self.method}, step {self.step} {self.generator_name}")

    def image_figure(self, i: int):
        return _image_figure(self.paths[i], self.targets[i], self.found.images[i], float(self.found.pixel_mse[i]))

    def default_name(self) -> str:
        return _default_name(self.names)

    def to_dict(self) -> dict[str, Any]:
        f, sources = self.found, recorded_paths(self.paths)
        return {
            "checkpoint": recorded_path(self.checkpoint_path), "step": self.step, "generator": self.generator_name,
            "fingerprint": self.fingerprint, "method": self.method, "settings": asdict(self.settings),
            "seconds": round(self.seconds, 3), "seconds_per_image": round(self.seconds / len(self.paths), 4),
            "scale": self.scale, "prior_norm": self.prior_norm,
            "images": [
                {"source": sources[i], "name": n, "pixel_mse": float(f.pixel_mse[i]),
                 "feature_distance": float(f.feature_distance[i]), "z_norm": float(f.z[i].norm()),
                 "started_from": f.started_from[i],
                 "z_file": f"{n}{SUFFIX}", "reconstruction": f"{n}-reconstruction.png", "picture": f"{n}-projection.png"}
                for i, n in enumerate(self.names)
            ],
        }

    def lines(self) -> list[str]:
        f = self.found
        out = [f"{len(self.paths)} image(s) projected into {self.checkpoint_path} (step {self.step}, {self.generator_name}) "
               f"by {self.method} in {self.seconds:.1f} s"]
        ref = self.scale
        for i, n in enumerate(self.names):
            out.append(f"{shown(n)}: pixel MSE {f.pixel_mse[i]:.4f}, feature distance {f.feature_distance[i]:.4f}, "
                       f"|z| {f.z[i].norm():.2f} (from the {f.started_from[i]} start)")
        if ref is not None:
            out.append(f"scale: {ref['images']} held-out real images projected the same way reach pixel MSE "
                       f"{ref['pixel_mse']:.4f} and feature distance {ref['feature_distance']:.4f} (medians); "
                       f"a typical |z| of the prior is {self.prior_norm:.2f}")
        return out + self.notes

    def save(self, target: Path) -> list[Path]:
        from ..core.files import check_folder_path, remove_stale_temps, write_json
        from ..core.images import grid_image, labelled_frame, save_gif, save_mp4, save_pil, video_available

        folder = check_folder_path(Path(target), "--out")
        if folder.is_dir():
            remove_stale_temps(folder, recursive=False)  # what a killed projection into this folder left half-written
        written = [save_pil(self.figure(), folder / "projection.png")]
        meta = dict(fingerprint=self.fingerprint, checkpoint=str(self.checkpoint_path), step=self.step,
                    generator=self.generator_name)
        f = self.found
        streamed = self.streamed_to is not None and folder.resolve() == self.streamed_to.resolve()
        for i, n in enumerate(self.names):
            if streamed:
                written += _image_paths(folder, n)  # written when its batch finished
            else:
                written += _image_files(folder, n, self.paths[i], self.targets[i], f.images[i], f.z[i],
                                        float(f.pixel_mse[i]), meta)
        if self.video and self.found.frames:
            count = len(self.found.frames)
            frames = [labelled_frame(grid_image(torch.cat([self.targets, shot]), nrow=len(self.paths)),
                                     f"targets (top), reconstructions at {k + 1}/{count}")
                      for k, shot in enumerate(self.found.frames)]
            frames += [frames[-1]] * 6  # hold the result
            written.append(save_gif(frames, folder / "progress.gif"))
            if video_available():
                written.append(save_mp4(frames, folder / "progress.mp4"))
        written.append(write_json(folder / "projection.json", self.to_dict()))
        return written


def _default_name(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{names[0]}-and-{len(names) - 1}-more"


def _image_figure(source: Path, target: torch.Tensor, image: torch.Tensor, mse: float):
    from ..core.images import labelled_grid

    row = torch.stack([target, image, (target - image).abs() - 1])
    return labelled_grid([row], [f"MSE {mse:.4f}"], ["target", "reconstruction", "|difference|"], title=shown(source.name))


def _image_paths(folder: Path, name: str) -> list[Path]:
    return [folder / f"{name}-projection.png", folder / f"{name}-reconstruction.png", folder / f"{name}{SUFFIX}"]


def _image_files(folder: Path, name: str, source: Path, target: torch.Tensor, image: torch.Tensor, z: torch.Tensor,
                 mse: float, meta: dict[str, Any]) -> list[Path]:
    """One image's own files: its figure, its reconstruction and its z file."""
    from ..core.images import save_individual, save_pil

    picture, reconstruction, zfile = _image_paths(folder, name)
    return [save_pil(_image_figure(source, target, image, mse), picture),
            *save_individual(image[None], folder, [reconstruction.name]),
            save_latents(zfile, z[None], **meta, source=source.name, pixel_mse=mse)]


# --- the encoder, cached per generator


# --- the entry points


def check_settings(steps: int, starts: int) -> None:
    if not 0 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps must be 0 to {MAX_STEPS:,}, got {steps}")
    if not 1 <= starts <= 64:
        raise UsageError(f"--starts must be 1 to 64, got {starts}")


def _no_encoder_yet(size: int) -> str:
    return ("note: no encoder for this generator yet: started from random z only (--train-encoder trains one once for "
            "better starts: measured 1-7 min on 2 CPU cores for a 32 px model" + (f"; this {size} px one takes longer)"
                                                                                   if size > 32 else ")"))


def project(
    ckpt: Checkpoint | str | Path | None,
    images: list[Path],
    *,
    steps: int = PROJECT_STEPS,
    starts: int = PROJECT_STARTS,
    encoder: bool = True,
    train: bool = False,
    encoder_steps: int = ENCODER_STEPS,
    video: bool = False,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
    stream: bool = False,
    out: Path | None = None,
) -> ProjectionResult:
    """Find z for each image. `encoder`: start from this G's cached encoder where there is one;
    `train`: train and cache it first if there is none. `steps` 0 uses the encoder's guess alone.
    `stream`: write each image's files into `out` (default RUN/project/step-N-NAME/) as its batch
    finishes, so a long batch keeps what it has found; `write()` there adds the summary."""
    check_settings(steps, starts)
    if not 1 <= encoder_steps <= 100_000:
        raise UsageError(f"--encoder-steps must be 1 to 100,000, got {encoder_steps}")
    if not images:
        raise UsageError("give at least one image to project, e.g. dcgan project runs/demo my_digit.png")
    if len(images) > MAX_IMAGES:
        raise UsageError(f"{len(images):,} images at once is more than {MAX_IMAGES:,}; project them in parts")
    c = as_checkpoint(ckpt)
    cfg = c.model_config
    loaded = load_images(images, cfg.size, cfg.nc, flag="image")
    G = c.generator(device, ema=ema)
    which = c.generator_name(ema)
    fingerprint = generator_fingerprint(G)
    notes = list(loaded.notes)
    E = cached_encoder(c, G, which, fingerprint) if (encoder or train) else None
    if E is None and train:
        E, said = encoder_for(c, G, which, fingerprint, steps=encoder_steps, device=device, data_root=data_root,
                              cache_dir=cache_dir, on_progress=on_progress)
        notes.append(f"note: {said}")
    if steps == 0 and E is None:
        raise UsageError("--steps 0 uses the encoder alone, and this generator has none yet; add --train-encoder")
    if E is None and encoder:
        notes.append(_no_encoder_yet(cfg.size))
    method = "encoder alone" if steps == 0 else "encoder + optimisation" if E is not None else "optimisation"
    settings = ProjectSettings(steps=steps, starts=starts)
    t0 = time.perf_counter()
    report = on_progress
    folder, on_batch = _streaming(c, loaded.paths, loaded.images, which, fingerprint, out) if stream else (None, None)
    found = find_z(G, D := c.discriminator(device), loaded.images.to(device), settings, encoder=E,
                   frames=VIDEO_FRAMES if video else 0, on_progress=report, on_batch=on_batch)
    seconds = time.perf_counter() - t0
    ref = reference(c, G, D, settings, E, [which, fingerprint, steps, starts, method], device=device, data_root=data_root,
                    cache_dir=cache_dir, on_progress=on_progress)
    return ProjectionResult(checkpoint_path=c.path, step=c.step, generator_name=which, fingerprint=fingerprint,
                            paths=loaded.paths, targets=loaded.images, found=found, method=method, settings=settings,
                            seconds=seconds, video=video, streamed_to=folder, scale=ref, prior_norm=typical_norm(cfg),
                            notes=notes + background_notes(c, _names(loaded.paths), loaded.images, data_root, cache_dir))


def _streaming(c: Checkpoint, paths: list[Path], targets: torch.Tensor, which: str, fingerprint: str, out: Path | None):
    """The folder a streamed projection writes into, and the callback that writes each batch's images."""
    from ..core.files import check_folder_path
    from ..core.runs import output_path

    names = _names(paths)
    folder = check_folder_path(Path(out) if out is not None else output_path(c.path, c.step, "project", _default_name(names)),
                               "--out")
    meta = dict(fingerprint=fingerprint, checkpoint=str(c.path), step=c.step, generator=which)

    def on_batch(lo: int, part: Projection) -> None:
        for k in range(part.z.shape[0]):
            i = lo + k
            _image_files(folder, names[i], paths[i], targets[i], part.images[k].cpu(), part.z[k].cpu(),
                         float(part.pixel_mse[k]), meta)

    return folder, on_batch


# --- z for the latent commands: a seed, an image (projected now) or a z file


@dataclass
class LatentEnd:
    z: torch.Tensor  # (nz,)
    label: str  # "seed 3", "my_digit.png", "my_digit (z file)"
    target: torch.Tensor | None = None  # the image it was projected from, (C, S, S) in [-1, 1]


def latent_ends(c: Checkpoint, G: Generator, which: str, refs: list[str | int | Path], *, flag: str, steps: int = PROJECT_STEPS,
                device: torch.device | str = "cpu") -> list[LatentEnd]:
    """Each reference as a z for G: a seed (an int), an image file (projected now, with this G's
    cached encoder when it has one) or a z file written by `dcgan project` for this same G."""
    from ..core.model import z_from_seeds

    fingerprint = None
    out: list[LatentEnd | None] = [None] * len(refs)
    pictures: list[tuple[int, Path]] = []
    for i, ref in enumerate(refs):
        if isinstance(ref, int):
            out[i] = LatentEnd(z_from_seeds(G.cfg, [ref])[0], f"seed {ref}")
        elif is_latent_file(ref):
            fingerprint = fingerprint or generator_fingerprint(G)
            lf = load_latents(ref, nz=G.cfg.nz, fingerprint=fingerprint, flag=flag, z_scale=G.cfg.z_scale)
            out[i] = LatentEnd(lf.z[0], f"{lf.label} (z file)")
        else:
            pictures.append((i, Path(ref)))
    if pictures:
        fingerprint = fingerprint or generator_fingerprint(G)
        loaded = load_images([p for _, p in pictures], G.cfg.size, G.cfg.nc, flag=flag)
        E = cached_encoder(c, G, which, fingerprint)
        found = find_z(G, c.discriminator(device), loaded.images.to(device), ProjectSettings(steps=steps), encoder=E)
        for k, (i, p) in enumerate(pictures):
            out[i] = LatentEnd(found.z[k], p.name, loaded.images[k])
    return [e for e in out if e is not None]
