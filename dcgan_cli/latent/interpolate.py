"""Paths through latent space: lerp, slerp, and `dcgan interpolate` between (or through) seeds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.configs import PATH_METHODS
from ..core.defaults import MOST_SEARCHED, WALK_STEPS
from ..core.errors import UsageError
from ..core.generation import check_truncation, generate, truncate
from ..core.model import Generator, z_from_seeds
from ..core.results import Result, shown
from ..core.seeds import MAX_SEED, Label, seeds_label

MAX_FRAMES = 10_000


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Straight line: (T,) weights -> (T, nz). Right for uniform z, whose mass fills the cube."""
    t = t.view(-1, 1).to(a.dtype)
    return a.unsqueeze(0) * (1 - t) + b.unsqueeze(0) * t


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Great-circle path (White 2016): keeps Gaussian z at the norms the generator was trained on.

    The angle is measured between directions; norms are interpolated linearly. Parallel or
    anti-parallel endpoints have no unique great circle, so they fall back to lerp.
    """
    t = t.view(-1, 1).to(a.dtype)
    na, nb = a.norm(), b.norm()
    if na == 0 or nb == 0:
        return lerp(a, b, t.view(-1))
    ua, ub = a / na, b / nb
    cos = (ua * ub).sum().clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    so = torch.sin(omega)
    if so.abs() < 1e-6:
        return lerp(a, b, t.view(-1))
    direction = (torch.sin((1 - t) * omega) * ua + torch.sin(t * omega) * ub) / so  # unit vectors
    return direction * ((1 - t) * na + t * nb)


def path_through(zs: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """Frames through consecutive points of zs (K, nz): `steps` frames per leg, shared ends kept once."""
    if method not in PATH_METHODS:
        raise UsageError(f"--method {method!r}: use slerp or lerp")
    if steps < 2:
        raise UsageError(f"--steps must be at least 2 (the two ends), got {steps}")
    if (steps - 1) * (len(zs) - 1) + 1 > MAX_FRAMES:
        raise UsageError(f"--steps {steps} makes {(steps - 1) * (len(zs) - 1) + 1:,} frames; at most {MAX_FRAMES:,}")
    fn = slerp if method == "slerp" else lerp
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    legs = [fn(zs[i].double(), zs[i + 1].double(), t)[(1 if i else 0) :] for i in range(len(zs) - 1)]
    return torch.cat(legs).to(zs.dtype)


def interpolate_seeds(G: Generator, seed_pairs: list[tuple[int, int]], steps: int, method: str = "slerp",
                      trunc: float = 1.0) -> torch.Tensor:
    """Rows of images (R, steps, C, H, W): each row walks from one seed's z to another's."""
    return interpolate_z(G, [tuple(z_from_seeds(G.cfg, [a, b])) for a, b in seed_pairs], steps, method, trunc)


def interpolate_z(G: Generator, z_pairs: list[tuple[torch.Tensor, torch.Tensor]], steps: int, method: str = "slerp",
                  trunc: float = 1.0) -> torch.Tensor:
    """Rows of images (R, steps, C, H, W): each row walks from one z (nz,) to another."""
    rows = []
    for a, b in z_pairs:
        zs = truncate(torch.stack([a, b]), trunc)
        frames = path_through(zs, steps, method)
        frames[0], frames[-1] = zs[0], zs[1]  # exact ends: the first and last frames are the ends themselves
        rows.append(generate(G, frames))
    return torch.stack(rows)


def interpolate_through(G: Generator, seeds: list[int], steps: int, method: str = "slerp", trunc: float = 1.0) -> torch.Tensor:
    """One path visiting every seed in order: frames (T, C, H, W)."""
    if len(seeds) < 2:
        raise UsageError("--through needs at least two seeds, e.g. 3,8,12,3")
    zs = truncate(z_from_seeds(G.cfg, seeds), trunc)
    frames = path_through(zs, steps, method)
    for i in range(len(seeds)):
        frames[i * (steps - 1)] = zs[i]
    return generate(G, frames)


@dataclass
class Interpolation(Result):
    command = "interpolate"
    frames: torch.Tensor = field(repr=False)  # (R, T, C, H, W) in [-1, 1]: R rows (one for --through), T frames each
    method: str
    seeds: list[list[int | str]]  # what each row passes through: seeds, or names of images and z files
    loops: bool  # a --through path: played forward only; rows play back and forth
    steps: int = WALK_STEPS
    checkpoint_path: Path | None = None
    step: int = 0
    gif: Path | None = None  # also write the animation here
    trunc: float = 1.0  # truncation psi of the ends
    notes: list[str] = field(default_factory=list)
    words: dict[int, str] = field(default_factory=dict)  # seed -> the words it was found by (--from seven)

    def _end(self, e: int | str) -> str:
        return f"{self.words[e]} (seed {e})" if isinstance(e, int) and e in self.words else _end(e)

    def legs(self) -> tuple[list[torch.Tensor], list[str]]:
        """The picture's rows: each seed pair's walk, or each leg of a --through path, and their names."""
        if not self.loops:
            return list(self.frames), [f"{self._end(a)} -> {self._end(b)}" for a, b in self.seeds]
        path, n = self.seeds[0], self.steps - 1
        rows = [self.frames[0, i * n : i * n + self.steps] for i in range(len(path) - 1)]
        return rows, [f"{self._end(a)} -> {self._end(b)}" for a, b in zip(path, path[1:])]

    def figure(self):
        """Rows of frames, enlarged to be seen, named by their seeds, columns by t."""
        from ..core.images import labelled_grid

        rows, names = self.legs()
        ts = [f"t={t / (self.steps - 1):.2f}" for t in range(self.steps)]
        return labelled_grid(rows, names, ts, title=f"{self.method} through latent space, {self.steps} frames per walk")

    def gif_frames(self) -> list:
        """One picture per step, every row side by side, at least 256 px, captioned with t; rows
        play back and forth so the loop has no jump, and a --through path already returns to its start."""
        from ..core.images import grid_image, labelled_frame

        n = self.frames.shape[1]
        frames = []
        for t in range(n):
            tile = grid_image(self.frames[:, t], nrow=1, padding=0 if self.loops else 2)
            where = f"t = {t / (n - 1):.2f}" if not self.loops else f"frame {t + 1} of {n}"
            frames.append(labelled_frame(tile, f"{self.method}, {where}"))
        return frames if self.loops else frames + frames[-2:0:-1]

    def default_name(self) -> str:
        if self.loops:
            name = f"through-{seeds_label(self.seeds[0])}"
        else:
            (a, b), rows = self.seeds[0], len(self.seeds)
            stem = {k: v.replace(" ", "-") for k, v in self.words.items()}  # --from seven: named by the words
            name = f"{stem.get(a) or _stem(a)}-{stem.get(b) or _stem(b)}" + (f"-rows{rows}" if rows > 1 else "")
        trunc = f"-trunc{self.trunc:g}" if self.trunc != 1.0 else ""
        return f"{name}-{self.method}-{self.steps}{trunc}.png"

    def save(self, target: Path) -> list[Path]:
        """The picture; with a GIF asked for, the GIF and, where an encoder is installed, an MP4 beside it."""
        from ..core.images import save_gif, save_mp4, video_available

        written = super().save(target)
        if self.gif is not None:
            frames = self.gif_frames()
            written.append(save_gif(frames, self.gif))
            if video_available():
                written.append(save_mp4(frames, self.gif.with_suffix(".mp4")))
        return written

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint_path), "step": self.step, "method": self.method, "steps": self.steps,
                "rows": self.seeds, "through": self.loops, "truncation": self.trunc}

    def lines(self) -> list[str]:
        if self.loops:
            what = f"through seeds {self.seeds[0]}"
        elif all(isinstance(e, int) for row in self.seeds for e in row):
            what = f"{len(self.seeds)} row(s) between seed pairs"
        else:
            what = "from " + " to ".join(shown(_end(e)) for e in self.seeds[0])
        return [f"{self.method}, {self.steps} steps, {what}"] + self.notes


def _end(e: int | str) -> str:
    return f"seed {e}" if isinstance(e, int) else str(e)


def _stem(e: int | str) -> str:
    return str(e) if isinstance(e, int) else str(e).split(" ")[0].split(".")[0]


def default_method(ckpt: Checkpoint) -> str:
    """slerp for a normal prior (keeps the norms G saw), lerp for a uniform one (its cube is convex)."""
    return "lerp" if ckpt.model_config.z_dist == "uniform" else "slerp"


def interpolate(
    ckpt: Checkpoint | str | None,
    *,
    pairs: list[tuple[int | Label | Path, int | Label | Path]] | None = None,
    through: list[int] | None = None,
    steps: int = WALK_STEPS,
    method: str | None = None,
    gif: Path | None = None,
    trunc: float = 1.0,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
) -> Interpolation:
    """Rows walking between pairs of ends, or one path through several seeds (`gif`: also an animation).

    An end is a seed, a Label (the i-th seed whose sample the data set's classifier reads as its words), an
    image file (projected into this G first) or a z file `dcgan project` wrote for this G."""
    if gif is not None:
        from ..core.files import check_image_path

        check_image_path(gif, "--gif", (".gif",))
    if pairs is not None and not all(0 <= s <= MAX_SEED for p in pairs for s in p if isinstance(s, int)):
        raise UsageError("--from and --to must be seeds from 0 to 2^63-1")
    if steps < 2:
        raise UsageError(f"--steps must be at least 2 (the two ends), got {steps}")
    check_truncation(trunc)
    c = as_checkpoint(ckpt)
    method = method or default_method(c)
    if method not in PATH_METHODS:
        raise UsageError(f"--method {method!r}: use slerp or lerp")
    if (pairs is None) == (through is None):
        raise UsageError("give seed pairs or a --through path, not both")
    if pairs is not None and not 1 <= len(pairs) * steps <= MAX_FRAMES:
        raise UsageError(f"{len(pairs)} rows of {steps} frames is more than {MAX_FRAMES:,} frames; ask for fewer")
    notes: list[str] = []
    words = {}
    if pairs is not None and any(isinstance(e, Label) for p in pairs for e in p):
        pairs, words = _seeds_for_labels(c, pairs, notes, trunc=trunc, ema=ema, device=device)
    G = c.generator(device, ema=ema)
    if through is not None:
        frames, rows, loops = interpolate_through(G, through, steps, method, trunc)[None], [list(through)], True
    elif all(isinstance(e, int) for p in pairs for e in p):
        frames, rows, loops = interpolate_seeds(G, pairs, steps, method, trunc), [list(p) for p in pairs], False
    else:
        from ..projection import latent_ends

        which = c.generator_name(ema)
        ends = latent_ends(c, G, which, [e for p in pairs for e in p], flag="--from/--to", device=device)
        z_pairs = [(ends[2 * i].z, ends[2 * i + 1].z) for i in range(len(pairs))]
        frames, loops = interpolate_z(G, z_pairs, steps, method, trunc), False
        rows = [[e if isinstance(e, int) else ends[2 * i + j].label for j, e in enumerate(p)] for i, p in enumerate(pairs)]
        if any(e.target is not None for e in ends):
            notes.append("images were projected into this generator first (dcgan project writes their z files, "
                         "and its pictures show how close each reconstruction is)")
    return Interpolation(frames=frames, method=method, seeds=rows, loops=loops, steps=steps, checkpoint_path=c.path,
                         step=c.step, gif=gif, trunc=trunc, notes=notes, words=words)


def _seeds_for_labels(c: Checkpoint, pairs: list[tuple], notes: list[str], **kw) -> tuple[list[tuple], dict[int, str]]:
    """Each Label end replaced by a seed whose sample reads as its words, with the words of each such seed
    (for the rows' names); a note per phrase. The two ends of a walk are two samples: from 'circle' to
    'large' starts at a circle that is not large and ends at a large shape that is not a circle where the
    samples hold such seeds, and a walk from a word to itself runs between two samples of it."""
    from .labelled import seeds_showing

    rows: dict[str, int] = {}
    flags: dict[str, str] = {}  # the option each phrase came from, for its errors
    for p in pairs:
        for e, flag in zip(p, ("--from", "--to")):
            if isinstance(e, Label):
                rows[e.phrase] = max(rows.get(e.phrase, 0), e.index + 1)
                flags.setdefault(e.phrase, flag)
    found = {}
    for phrase, n in rows.items():  # twice the rows: a walk from a word to itself takes two samples a row
        found[phrase] = f = seeds_showing(c, phrase, min(2 * n, MOST_SEARCHED), flag=flags[phrase], **kw)
        if len(f.seeds) < n:
            raise UsageError(f"{f.line()}: fewer than the {n} rows asked; ask for --rows {len(f.seeds)} or fewer")
        notes.append(f.line())
    out = [_pair_ends(a, b, found, notes) for a, b in pairs]
    words = {s: " ".join(e.phrase.lower().split()) for p, q in zip(pairs, out) for e, s in zip(p, q) if isinstance(e, Label)}
    walks = [" to ".join(f"seed {s}" if isinstance(e, Label) else shown(getattr(e, "name", e)) for e, s in zip(p, q))
             for p, q in zip(pairs, out)]
    notes.append(f"ends used: {'; '.join(walks[:4])}{' ...' if len(walks) > 4 else ''}")
    return out, words


def _pair_ends(a, b, found: dict, notes: list[str]) -> tuple:
    """One row's two ends as seeds (a Label's from its phrase's seeds; a seed or a file as it is), never one sample twice."""
    seeds_of = {phrase: f.seeds for phrase, f in found.items()}

    def others(e, than):  # the searched seeds of e's phrase that the classifier does not lean on as `than`'s phrase
        if not isinstance(than, Label) or than.phrase == e.phrase:
            return seeds_of[e.phrase]
        return [s for s in found[e.phrase].every if found[than.phrase].leans(s) is False]

    if isinstance(a, Label) and isinstance(b, Label) and a.phrase == b.phrase:
        mine = seeds_of[a.phrase]
        if len(mine) < 2 * a.index + 2:
            raise UsageError(f"a walk from {a.phrase!r} to {b.phrase!r} needs two samples of it per row; {len(mine)} were "
                             "found: ask for fewer --rows, or give one end as a seed")
        return mine[2 * a.index], mine[2 * a.index + 1]
    ends = []
    for e, other in ((a, b), (b, a)):
        if not isinstance(e, Label):
            ends.append(e)
            continue
        apart = others(e, other)
        if len(apart) > e.index:
            ends.append(apart[e.index])
            continue
        ends.append(seeds_of[e.phrase][e.index])
        notes.append(f"too few seeds read as {e.phrase!r} without also reading as {other.phrase!r}: "
                     f"this end reads as both")
    if ends[0] == ends[1]:  # a word whose first sample is the other end's seed: the word's next sample
        i = 1 if isinstance(b, Label) else 0
        e = (a, b)[i]
        nxt = [s for s in seeds_of[e.phrase][e.index:] if s != ends[1 - i]]
        if not nxt:
            raise UsageError(f"only seed {ends[i]} of the seeds searched reads as {e.phrase!r}, and it is the other end "
                             "too: give that end as another seed or word")
        ends[i] = nxt[0]
    return tuple(ends)


def seed_rows(from_seed: int, to_seed: int, rows: int) -> list[tuple[int, int]]:
    """The pairs of --rows R: row i runs from seed FROM+2i to TO+2i."""
    if not 1 <= rows <= 1000:
        raise UsageError(f"--rows must be 1 to 1000, got {rows}")
    if not (0 <= from_seed and 0 <= to_seed and max(from_seed, to_seed) + 2 * rows <= MAX_SEED):
        raise UsageError("--from and --to must be seeds from 0 to 2^63-1")
    return [(from_seed + 2 * i, to_seed + 2 * i) for i in range(rows)]
