"""What the explorer page can ask of a run, each answer one library call that a `dcgan` command also makes.

The page never names a file: checkpoints are chosen from the run's own list, uploaded pictures and
the z of results live in this session's temporary folder under ids the session made, and the run's
pictures are served only from inside the run folder.
"""

from __future__ import annotations

import itertools
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.checkpoint import Checkpoint, load_checkpoint, resolve_checkpoint, run_best, run_checkpoints
from ..core.defaults import BANK_SAMPLES, NEIGHBOURS, RADIUS, WALK_STEPS
from ..core.errors import UsageError
from ..core.results import shown
from ..core.runs import RunFolder
from ..core.seeds import MAX_SEED, Label
from .answers import picture, png, public_answer

MAX_UPLOAD = 20 * 2**20  # bytes in one upload; Pillow's bomb check guards the decoded size
PICTURES = (".png", ".gif", ".jpg", ".jpeg", ".mp4")
SERVED = (*PICTURES, ".json", ".jsonl", ".txt")


@dataclass(frozen=True)
class Limits:
    """What one page may ask of a session: a page cannot fill the memory or the disk."""

    tiles: int = 256  # samples in one ask
    uploads: int = 32  # uploads in the session
    upload_bytes: int = 128 * 2**20  # bytes uploaded in the session


class TooLarge(UsageError):
    """An upload over a cap: the server answers 413."""


def _safe_stem(name: str) -> str:
    """An uploaded file's stem, kept to characters any file system and terminal take, at most 60."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:60]
    return stem or "upload"


class Explorer:
    """One run (or one checkpoint's run) opened for the page; `uploads` is this session's own folder."""

    def __init__(self, target: Path | str | None, uploads: Path, device: torch.device | str = "cpu",
                 bank_samples: int = BANK_SAMPLES, limits: Limits = Limits()):
        from ..core.checkpoint import RUNS_DIR, newest_checkpoint

        self.device, self.bank_samples = device, bank_samples  # the labelled bank arithmetic builds once per checkpoint
        self.limits = limits
        self.uploads = Path(uploads)
        folder = Path(target) if target is not None else Path(RUNS_DIR)
        if folder.name == "checkpoints" and RunFolder(folder.parent).is_run():  # RUN/checkpoints means RUN
            folder = target = folder.parent
        many = folder.is_dir() and not RunFolder(folder).is_run() and not (folder / "checkpoints").is_dir()
        if many:  # a folder of runs (./runs by default): every run's checkpoints, named run/step
            newest = newest_checkpoint(folder)
            if newest is None:
                raise UsageError(f"no run with checkpoints under {folder}; train one with `dcgan train` or name a run")
            self._runs_folder: Path | None = folder
            first = load_checkpoint(newest)
            self.default = f"{first.run.path.name}/{first.path.name}"
        else:
            first = load_checkpoint(resolve_checkpoint(target, best=True))
            self._runs_folder = None
            self._alone = first.run is None or first.path.name not in self._run_files(first.run)
            self.default = first.path.name
        self.run = first.run
        self._loaded: dict[str, Checkpoint] = {self.default: first}
        self._latents: dict[str, Path] = {}  # id -> z file or uploaded image, in self.uploads
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._uploaded = [0, 0]  # count, bytes

    # --- choosing what to look at

    def describe_default(self) -> str:
        """Which checkpoint the page opens on, in words: the best one the run kept, or the newest."""
        c = self._loaded[self.default]
        best = c.meta.get("best") if c.path.name == "best.safetensors" else None
        if isinstance(best, dict) and "metric" in best and "value" in best:
            from ..evaluation.evaluate import metric_name

            return (f"{self.default}: step {c.step}, the best by {metric_name(best['metric'], best.get('features'))} "
                    f"({best['value']:.4g}) of the run's evaluations")
        return f"{self.default}: step {c.step}, the newest"

    @staticmethod
    def _run_files(run: RunFolder) -> dict[str, Path]:
        kept = run_best(run)
        return {p.name: p for p in run_checkpoints(run) + ([kept] if kept else [])}

    @property
    def files(self) -> dict[str, Path]:
        """The checkpoints on disk now (a run prunes old ones while the page is open), and the one opened."""
        if self._runs_folder is not None:
            found = {f"{run.name}/{p.name}": p for run in sorted(self._runs_folder.iterdir()) if run.is_dir()
                     for p in run_checkpoints(RunFolder(run))}
        elif self._alone or self.run is None:  # a checkpoint outside the run's own list: it alone
            found = {}
        else:
            found = self._run_files(self.run)
        return found | {self.default: self._loaded[self.default].path}  # opened, so still served from memory

    def checkpoint(self, name: str | None) -> Checkpoint:
        name = name or self.default
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
        files = self.files
        if name not in files:
            raise UsageError(f"no checkpoint {name!r} in this run (now); choose one of {', '.join(sorted(files))}")
        c = load_checkpoint(files[name])
        with self._lock:
            return self._loaded.setdefault(name, c)

    def end(self, ref: str, words: bool = False) -> int | Path | Label:
        """An interpolation end or anchor as the page names it: 'seed:N' or 'z:ID' (a z this session made),
        or a seed's number; with `words` (a walk's ends, as `dcgan interpolate --from` takes them) also
        words ('trouser', 'red square') for the first seed that reads so. Never a path: the page names no
        files of this machine."""
        text = str(ref).strip()
        kind, _, value = text.partition(":")
        if re.fullmatch(r"[0-9]{1,19}", text) and int(text) <= MAX_SEED:
            return int(text)
        if kind == "seed" and re.fullmatch(r"[0-9]{1,19}", value) and int(value) <= MAX_SEED:
            return int(value)
        if kind == "z" and value in self._latents:
            return self._latents[value]
        if words and not value and re.fullmatch(r"[^\W\d_][\w' /-]*", text):
            return Label(text)
        said = ", words the data set's labels use (seven, red square)" if words else ""
        raise UsageError(f"{ref!r} is not a seed (7 or seed:7){said} or a picture of this session (z:ID)")

    def _keep(self, path: Path) -> str:
        with self._lock:
            key = str(next(self._ids))
            self._latents[key] = path
        return key

    def public(self, value: Any) -> Any:
        """An answer as the page may show it: every absolute path of this machine in it written relative
        (to the run folder, as "RUN/...", this session's folder, the data cache, the home folder)."""
        return public_answer(value, self._prefixes())

    def _prefixes(self) -> list[tuple[str, str]]:
        from ..data.cache import default_cache_root

        out = []
        for run in {c.run.path for c in list(self._loaded.values()) if c.run is not None}:
            shown_as = f"{self._runs_folder.name}/{run.name}" if self._runs_folder is not None else run.name
            out += [(str(run.resolve()), shown_as), (str(run.absolute()), shown_as)]
        if self._runs_folder is not None:
            out += [(str(self._runs_folder.resolve()), self._runs_folder.name)]
        from .. import bundled

        here = str(Path.cwd())  # a bundled model's outputs go to the working folder
        out += [(str(bundled.MODELS_DIR), "(bundled models)"), *([(here, ".")] if len(Path(here).parts) > 2 else []),
                (str(self.uploads.resolve()), "(this session's folder)"), (str(self.uploads), "(this session's folder)"),
                (str(default_cache_root().resolve()), "(the data cache)"), (str(Path.home()), "~")]
        return sorted(set(out), key=lambda p: -len(p[0]))  # the longest first: a run inside the home folder is the run

    # --- the run

    def overview(self, ckpt: str | None = None) -> dict[str, Any]:
        """The chosen checkpoint (default: the newest) with its run: config, words, pictures, choices."""
        from ..attributes.phrases import vocabulary
        from ..core.configs import ARITHMETIC_METHODS
        from ..core.info import info

        c = self.checkpoint(ckpt)
        ds = c.dataset
        words = sorted(vocabulary((ds.name or ""), list(ds.label_names or [])))
        return {
            "run": c.run.path.name if c.run is not None else None,
            "checkpoints": [{"name": n} for n in sorted(self.files)],
            "default": self.default, "chosen": ckpt or self.default, "has_ema": c.has_ema, "size": c.model_config.size,
            "methods": list(ARITHMETIC_METHODS), "words": words, "concepts": self.concepts(c), "info": info(c).to_dict(),
            "pictures": self.pictures(ckpt),
        }

    def concepts(self, c: Checkpoint) -> list[str]:
        """What a concept slider can move toward: the values of the data set's labels (none without)."""
        from ..attributes.reading import labelled_attributes
        from ..core.errors import DcganError
        from ..latent.steer import concept_words

        if not c.dataset.label_names:
            return []
        try:  # the groups of labels (one shape of three) are the data's: read from its cache
            _, attrs = labelled_attributes(c, "a concept slider needs labels to read")
        except DcganError:
            return []
        return concept_words(attrs)

    def pictures(self, ckpt: str | None = None) -> list[str]:
        """The run's pictures (progress grids, curves, evaluation figures), relative to the run folder."""
        run = self.checkpoint(ckpt).run
        if run is None:
            return []
        root = run.path.resolve()
        found = [p for p in root.rglob("*") if p.suffix.lower() in PICTURES and p.is_file() and not p.is_symlink()]
        return sorted(str(p.relative_to(root)) for p in found)[:500]

    def run_file(self, rel: str, ckpt: str | None = None) -> Path:
        """A file inside the chosen checkpoint's run folder, or UsageError: nothing outside it is ever read."""
        run = self.checkpoint(ckpt).run
        if run is None:
            raise UsageError("this checkpoint sits in no run folder: there are no run files to show")
        root = run.path.resolve()
        refused = UsageError(f"{shown(rel[:200])!r} is not a picture or record of this run")
        if "\x00" in rel or len(rel) > 1024:
            raise refused
        target = (root / rel).resolve()
        try:
            st = target.stat()
        except OSError:  # missing, a name too long, a loop of links
            raise refused from None
        # A regular file inside the run folder with one name: a hard link planted there to a file elsewhere is not served.
        if not target.is_relative_to(root) or target.suffix.lower() not in SERVED or not stat.S_ISREG(st.st_mode) \
                or st.st_nlink != 1:
            raise refused
        return target

    # --- the calls

    def samples(self, ckpt: str | None, seeds: list[int], trunc: float = 1.0, ema: bool | None = None,
                around: int | None = None, radius: float = RADIUS) -> dict[str, Any]:
        from ..latent.sample import sample

        if not 1 <= len(seeds) <= self.limits.tiles:
            raise UsageError(f"ask for 1 to {self.limits.tiles} samples at a time, got {len(seeds)}")
        c = self.checkpoint(ckpt)
        started = time.perf_counter()
        r = sample(c, seeds, trunc=trunc, ema=ema, around=around, radius=radius, device=self.device)
        model_ms = 1000 * (time.perf_counter() - started)  # what a frame of a dragged slider costs in G
        return {"seeds": r.seeds, "names": [r.tile_name(s) for s in r.seeds], "images": png(r.images()),
                "lines": r.lines(), "model_ms": round(model_ms, 1)}

    def read(self, ckpt: str | None, seed: int, trunc: float = 1.0, ema: bool | None = None,
             around: int | None = None, radius: float = RADIUS, on_progress=None) -> dict[str, Any]:
        from ..latent.sample import sample

        r = sample(self.checkpoint(ckpt), [seed], trunc=trunc, ema=ema, around=around, radius=radius, read=True,
                   device=self.device, on_progress=on_progress)
        return {"lines": r.lines(), "read": r.to_dict()["read"][0]["attributes"]}

    def steer(self, ckpt: str | None, ref: str, concept: str, trunc: float = 1.0, ema: bool | None = None,
              on_progress=None) -> dict[str, Any]:
        """A concept slider's pictures for a seed's sample or a z of this session, each with its reading."""
        from ..latent.steer import steer
        from ..projection.zfiles import generator_fingerprint, load_latents

        c = self.checkpoint(ckpt)
        if "\\" in concept:  # a concept whose name holds controls: the page had it escaped
            concept = {shown(w): w for w in self.concepts(c)}.get(concept, concept)
        end = self.end(ref)
        if isinstance(end, int):
            s = steer(c, concept, seed=end, trunc=trunc, ema=ema, bank_samples=self.bank_samples, device=self.device,
                      on_progress=on_progress)
        else:
            z = load_latents(end, nz=c.model_config.nz, fingerprint=generator_fingerprint(c.generator("cpu", ema=ema)),
                             flag="the slider's sample", z_scale=c.model_config.z_scale).z[0]
            s = steer(c, concept, z=z, ema=ema, bank_samples=self.bank_samples, device=self.device, on_progress=on_progress)
        return s.to_dict() | {"frames": png(s.images)}

    def label_seeds(self, ckpt: str | None, phrase: str, n: int = 32, trunc: float = 1.0, ema: bool | None = None,
                    on_progress=None) -> dict[str, Any]:
        """The first n seeds whose samples the classifier reads as `phrase` ("show me sevens")."""
        from ..latent.labelled import seeds_showing

        if not 1 <= n <= self.limits.tiles:
            raise UsageError(f"ask for 1 to {self.limits.tiles} samples at a time, got {n}")
        found = seeds_showing(self.checkpoint(ckpt), phrase, n, trunc=trunc, ema=ema, device=self.device,
                              on_progress=on_progress)
        return {"seeds": found.seeds, "lines": [found.line()]}

    def neighbours(self, ckpt: str | None, seed: int, ema: bool | None = None, k: int = NEIGHBOURS, on_progress=None,
                   trunc: float = 1.0) -> dict:
        """The training images nearest the sample the page shows: the seed's, at the page's truncation."""
        from ..core.generation import check_truncation, images_from_seeds
        from ..search.nn_search import nn_search

        check_truncation(trunc)
        c = self.checkpoint(ckpt)
        query = [seed] if trunc == 1.0 else images_from_seeds(c.generator(self.device, ema=ema), [seed], trunc=trunc)
        r = nn_search(c, query, k=k, holdout=0, ema=ema, device=self.device, on_progress=on_progress)
        lines = r.lines() if trunc == 1.0 else [f"seed {seed} at truncation {trunc:.2f}:", *r.lines()]
        return {"figure": picture(r.figure()), "lines": lines}

    def interpolate(self, ckpt: str | None, a: str, b: str, steps: int = WALK_STEPS, method: str | None = None,
                    trunc: float = 1.0, ema: bool | None = None, export: bool = False) -> dict[str, Any]:
        from ..latent.interpolate import interpolate

        if not 2 <= steps <= 64:
            raise UsageError(f"steps must be 2 to 64, got {steps}")
        c = self.checkpoint(ckpt)
        ends = (self.end(a, words=True), self.end(b, words=True))
        r = interpolate(c, pairs=[ends], steps=steps, method=method, trunc=trunc, ema=ema, device=self.device)
        out: dict[str, Any] = {"frames": png(r.frames[0]), "lines": r.lines(), "method": r.method}
        if export:  # the files `dcgan interpolate` writes, in the run folder where it writes them
            from ..core.runs import output_path

            target = output_path(c.path, c.step, "interpolate", r.default_name())
            r.gif = target.with_suffix(".gif")
            out["written"] = [str(p) for p in r.write(target)]  # public() makes them relative to the run
        return out

    def arithmetic(self, ckpt: str | None, expression: str, method: str | None = None, ema: bool | None = None,
                   anchor: str | None = None, on_progress=None) -> dict[str, Any]:
        from ..projection.zfiles import generator_fingerprint, save_latents
        from ..vector_arithmetic.arithmetic import arithmetic

        c = self.checkpoint(ckpt)
        anchors = [self.end(anchor)] if anchor else None
        if anchors and isinstance(anchors[0], int):
            raise UsageError("an anchor is a picture or result of this session; a seed's sample is the first term's job")
        r = arithmetic(c, expression, method=method, ema=ema, anchors=anchors, samples=self.bank_samples, device=self.device,
                       on_progress=on_progress)
        G = c.generator("cpu", ema=ema)
        ids = []
        fp = generator_fingerprint(G)
        for i, z in enumerate(r.plan.result_z):
            path = save_latents(self.uploads / f"result-{next(self._ids)}.z.safetensors", z[None], fingerprint=fp,
                                checkpoint=str(c.path), step=c.step, source=f"{expression} (result {i + 1})")
            ids.append(self._keep(path))
        return {"figure": picture(r.figure()), "lines": r.lines(), "results": png(r.result_images), "ids": ids,
                "verdict": r.verdict_lines()}

    def upload(self, name: str, body: bytes) -> dict[str, Any]:
        """Keep an uploaded picture (checked as `dcgan project` checks its images) in this session's folder."""
        from ..data.user_images import load_images

        if len(body) > MAX_UPLOAD:
            raise TooLarge(f"the upload is {len(body) / 2**20:.0f} MB; pictures up to {MAX_UPLOAD // 2**20} MB")
        with self._lock:
            cap = self.limits
            if self._uploaded[0] >= cap.uploads or self._uploaded[1] + len(body) > cap.upload_bytes:
                raise TooLarge(f"this session has had its {cap.uploads} uploads or {cap.upload_bytes // 2**20} MB; "
                               "restart dcgan explore for more")
            self._uploaded[0] += 1
            self._uploaded[1] += len(body)
        suffix = Path(name).suffix.lower()
        if suffix not in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"):
            raise UsageError(f"{Path(name).name!r} is not a picture file (.png, .jpg, .gif, .bmp, .webp, .tiff)")
        # Its own folder, so the projection's lines and files carry the picture's name, not a number.
        path = self.uploads / f"upload-{next(self._ids)}" / f"{_safe_stem(name)}{suffix}"
        path.parent.mkdir()
        path.write_bytes(body)
        try:
            c = self.checkpoint(None)
            load_images([path], c.model_config.size, c.model_config.nc, flag="upload", names=[repr(Path(name).name)])
        except Exception:
            path.unlink(missing_ok=True)
            path.parent.rmdir()
            raise
        return {"id": self._keep(path), "name": Path(name).name}

    def project(self, ckpt: str | None, upload: str, ema: bool | None = None, on_progress=None) -> dict[str, Any]:
        from ..projection.project import project

        path = self.end(upload)
        if isinstance(path, int) or path.name.endswith(".z.safetensors"):
            raise UsageError("project an uploaded picture (upload one first)")
        r = project(self.checkpoint(ckpt), [path], ema=ema, device=self.device, on_progress=on_progress)
        written = r.write(self.uploads / f"projection-{next(self._ids)}")
        zfile = next(p for p in written if p.name.endswith(".z.safetensors"))
        return {"figure": picture(r.figure()), "lines": r.lines(), "id": self._keep(zfile)}
