"""`evaluate`: how good is a generator? FID, KID, precision and recall, with their protocol.

The generated side is a checkpoint's samples from seeds 0..N-1 (its EMA generator when it has
one), quantised to uint8 as a saved picture would be, or a folder of pictures. The real side is
the checkpoint's prepared data split (a fixed random subset of N), or a folder. Real features
from a prepared split are cached beside the data caches, keyed by the data fingerprint, the
extractor and N, so a second checkpoint on the same data set costs only its own samples.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..attributes.classifier import classes_to_learn, training_label
from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.configs import FEATURES
from ..core.defaults import CPU_N, FEATURE_BATCH, STANDARD_N
from ..core.errors import DcganError, UsageError
from ..core.generation import uint8_from_seeds
from ..core.progress import Progress, phase
from ..core.results import Result, shown
from ..core.tensor_cache import read_cached, write_cached
from ..data import ImageData, checkpoint_data
from ..data.cache import REAL_SUBSET_SEED, crop_resize, default_cache_root, real_subset, second_real_subset
from .features import INCEPTION_SIZE, DomainFeatures, Extractor, InceptionFeatures, default_features, extract
from .metrics import Stats, fid, kid, precision_recall

METRICS = ("fid", "kid", "pr")
MAX_N = 200_000


SMALL_N = 5000  # below it, Inception FID's bias dominates differences between models


def default_n(device: torch.device | str) -> int:
    """The sample count when --n is not given: the standard protocol where a GPU makes it cheap."""
    return STANDARD_N if torch.device(device).type == "cuda" else CPU_N

NAMES = {"fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall"}
SPACES = {"domain": "domain", "inception": "Inception"}  # said before FID and KID: their values mean nothing apart from it


def metric_name(metric: str, features: str | None) -> str:
    """"domain FID", "Inception KID", "precision": a distance named with the feature space it was measured in."""
    name = NAMES.get(metric, metric)
    return f"{SPACES.get(features or '', features)} {name}" if features and metric in ("fid", "kid") else name


@dataclass
class EvalResult(Result):
    command = "evaluate"
    metrics: dict[str, float]  # fid, kid, kid_std, precision, recall (those asked for)
    protocol: dict[str, Any]  # what was compared, and how
    notes: list[str] = field(default_factory=list)  # e.g. whether the feature classifier was reused

    def to_dict(self) -> dict[str, Any]:
        return {"headline": self.headline(), "features": self.protocol.get("features"), "metrics": self.metrics,
                "protocol": self.protocol}

    def headline(self) -> str:
        m, space = self.metrics, self.protocol.get("features")
        return "  ".join(f"{metric_name(k, space)} {m[k]:.4g}" + (f" ± {m['kid_std']:.2g}" if k == "kid" else "")
                         for k in NAMES if k in m)

    def lines(self) -> list[str]:
        p = self.protocol
        out = [self.headline()]
        out += [f"{key}: {shown(p[key])}" for key in ("generated", "real", "features", "resize")]
        if p.get("n_note"):
            out.append(p["n_note"])
        return out + self.notes + self.context()

    def context(self) -> list[str]:
        """What the numbers can be compared with, and when they mostly measure something else."""
        m, p = self.metrics, self.protocol
        n = min(p.get("n_generated", 0), p.get("n_real", 0))
        out = []
        if m.get("fid_floor") is not None:
            floor = m["fid_floor"]
            out.append(f"floor: real against real at N={n} gives FID {floor:.4g} (two disjoint real subsets); "
                       f"no model scores below it at this N, so read FID {m['fid']:.4g} as {m['fid'] - floor:.4g} above it")
        elif p.get("floor"):
            out.append(f"floor: {p['floor']}")
        if p.get("features") == "domain":
            out.append("compare: domain FID ranks runs on the same data set at the same N; "
                       "not comparable with published (Inception) FID")
        elif "fid" in m and n < SMALL_N:
            out.append(f"compare: FID at N={n} is mostly small-sample bias (it falls as N grows); compare runs at the same N, "
                       "and use --n 10000 or more for numbers comparable with published ones")
        if m.get("precision") is not None and m["precision"] < 0.05:
            out.append(f"precision {m['precision']:.3g}: almost no generated image falls among the real ones: the samples "
                       "are blurry or off the data (common early in training)")
        return out


def parse_metrics(text: str) -> tuple[str, ...]:
    names = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise UsageError(f"--metrics {text!r}: use a comma-separated list of {', '.join(METRICS)}")
    return names


def make_extractor(features: str, data: ImageData | None, *, device, on_progress=None, flag: str = "--features") -> Extractor:
    """The feature space; `flag` names the option that chose it in messages (train's is --eval-features)."""
    if features not in FEATURES:
        raise UsageError(f"{flag} {features!r}: use inception or domain")
    if features == "inception":  # domain features are offered only where this data's labels can train them
        return InceptionFeatures(device, flag=flag, domain_ok=data is not None and classes_to_learn(data) >= 2)
    if data is None:
        raise UsageError(
            "--features domain needs a checkpoint (its data set trains the feature classifier)"
            "; use --features inception for two folders"
        )
    return DomainFeatures.for_data(data, device=device, flag=flag, on_progress=on_progress)


def load_folder(folder: Path, n: int, size: int | None, channels: int, flag: str) -> tuple[np.ndarray, str]:
    """Up to n pictures of a folder (sorted by path) as uint8 (N, C, S, S), and how they were sized.

    Pictures that all share one square size are used as they are; otherwise each is centre-cropped
    and resized to `size` (the model's, or Inception's 299 when there is no model).
    """
    from PIL import Image, UnidentifiedImageError

    from ..data.source import IMAGE_EXTENSIONS

    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{flag} {folder} is not a folder of pictures")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())[:n]
    if len(paths) < 2:
        raise UsageError(f"{flag} {folder} holds {len(paths)} pictures; at least 2 are needed")
    sizes = set()
    for p in paths[:64]:
        try:
            with Image.open(p) as img:
                sizes.add(img.size)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            continue  # counted as skipped when the pictures are read below
    native = len(sizes) == 1 and next(iter(sizes))[0] == next(iter(sizes))[1]
    side = next(iter(sizes))[0] if native else (size or INCEPTION_SIZE)
    out, skipped = [], 0
    for p in paths:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(p) as img:
                    if img.size != (side, side) and native:
                        skipped += 1
                        continue
                    out.append(crop_resize(img, side, channels))
        except (
            OSError,
            UnidentifiedImageError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            skipped += 1
    if len(out) < 2:
        raise UsageError(f"{flag} {folder}: fewer than 2 readable pictures")
    how = f"{len(out)} pictures {'at their own' if native else 'centre-cropped and resized to'} {side}x{side}"
    return np.stack(out), how + (f", {skipped} skipped" if skipped else "")


def _real_features(data: ImageData, n: int, extractor: Extractor, cache_root: Path, batch_size: int, on_progress,
                   *, second: bool = False) -> np.ndarray | None:
    """Features of the fixed real subset of n (or of the disjoint second one: None when the split is too small)."""
    ident = json.dumps([data.name, data.split, data.size, data.channels, data.fingerprint, str(data.cache_dir), n, extractor.key]
                       + (["second"] if second else []))
    path = (
        Path(cache_root) / "eval" / f"real-{data.name}-{data.split}-{hashlib.sha256(ident.encode()).hexdigest()[:16]}.safetensors"
    )
    cached = read_cached(path, lambda t, meta: meta.get("key") == ident and set(t) == {"features"})
    if cached is not None:
        return cached[0]["features"].double().numpy()
    images = second_real_subset(data, n) if second else real_subset(data, n)
    if images is None:
        return None
    feats = extract(extractor, images, batch_size=batch_size, on_progress=on_progress)
    write_cached(path, {"features": torch.from_numpy(feats).float()}, {"key": ident}, what="real features")
    return feats.astype(np.float32).astype(np.float64)  # as read back from the cache next time


def compute(real: np.ndarray, fake: np.ndarray, metrics: tuple[str, ...], *, kid_subset: int | None = None) -> dict[str, float]:
    # Subsets of 1000 as Binkowski et al.; below 2000 images, of half the set, so subsets differ.
    kid_subset = kid_subset or min(1000, max(2, min(len(real), len(fake)) // 2))
    out: dict[str, float] = {}
    if "fid" in metrics:
        out["fid"] = fid(Stats.of(real), Stats.of(fake))
    if "kid" in metrics:
        out["kid"], out["kid_std"] = kid(real, fake, subset_size=kid_subset)
    if "pr" in metrics:
        out["precision"], out["recall"] = precision_recall(real, fake)
    return out


def evaluate(
    ckpt: Checkpoint | str | Path | None = None,
    *,
    images: Path | None = None,
    real: Path | None = None,
    split: str = "train",
    metrics: tuple[str, ...] = METRICS,
    n: int | None = None,
    features: str | None = None,
    batch_size: int = FEATURE_BATCH,
    ema: bool | None = None,
    device: torch.device | str = "cpu",
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    extractor: Extractor | None = None,
    on_progress: Progress | None = None,
    on_note: Callable[[str], None] | None = None,
) -> EvalResult:
    """Compare generated and real images in a feature space. `ckpt` may be None only for two folders.
    `features` None picks domain features for a labelled data set, Inception otherwise. `n` None is the
    standard 10,000 on a GPU, a first look of 2,048 elsewhere, or the real split's size where it holds
    fewer. `on_note` hears, before the work starts, what will make it long or lopsided."""
    asked, on_note, cache_root = n, on_note or (lambda text: None), Path(cache_dir or default_cache_root())
    n, n_note = _check_request(n, batch_size, split, device)
    c = as_checkpoint(ckpt) if (ckpt is not None or images is None or real is None) else None
    needs_data = c is not None and (real is None or features in (None, "domain"))
    data = checkpoint_data(c, split, data_root=data_root, cache_dir=cache_dir) if needs_data else None
    if data is not None and real is None and images is None:
        n, n_note = _fit_the_split(data, split, n, n_note, asked is None, on_note)
    ex, notes = _extractor(extractor, features, _training_split(c, data, split, data_root, cache_dir), device, on_progress)
    if ex.name == "inception" and torch.device(device).type == "cpu":
        on_note(_inception_on_cpu(2 * n, data))
    protocol: dict[str, Any] = {"features": ex.name, "extractor": ex.key, "resize": ex.resize}
    real_u8 = None
    if real is not None:  # read (and refuse) the real folder before any generating
        channels = 3 if ex.name == "inception" else c.model_config.nc
        real_u8, real_how = load_folder(real, n, c.model_config.size if c is not None else None, channels, "--real")
    fake_u8, protocol["generated"] = _generated(c, images, n, ex, ema, device, on_progress)
    fake = extract(ex, fake_u8, batch_size=batch_size, on_progress=phase(on_progress, "features of generated images"))
    floor = None
    if real_u8 is not None:
        if ex.name == "domain" and real_u8.shape[1:] != fake_u8.shape[1:]:
            raise UsageError(f"--real pictures are {real_u8.shape[-1]} px; domain features need the model's "
                             f"{c.model_config.size} px")
        real_feats = extract(ex, real_u8, batch_size=batch_size, on_progress=phase(on_progress, "features of real images"))
        protocol["real"] = f"folder {real}: {real_how}"
    else:
        data = data if data is not None else checkpoint_data(c, split, data_root=data_root, cache_dir=cache_dir)
        real_feats, floor = _real_side(data, n, ex, cache_root, batch_size, metrics, protocol, on_progress)
        protocol["real"] = (f"{data.name} {split} split ({data.images.shape[0]} images at {data.size} px)"
                            f", {real_feats.shape[0]} drawn with seed {REAL_SUBSET_SEED}")
    protocol |= PROTOCOL | {"n_generated": int(fake.shape[0]), "n_real": int(real_feats.shape[0]),
                            "split": split if real is None else None}
    if fake.shape[0] < 4 or real_feats.shape[0] < 4:
        raise DcganError("too few images to compare; at least 4 on each side")
    notes += _unequal_sides(fake.shape[0], real_feats.shape[0])
    protocol |= {"n_note": n_note} if n_note else {}
    measured = compute(real_feats, fake, metrics) | ({"fid_floor": floor} if floor is not None else {})
    return EvalResult(metrics=measured, protocol=protocol, notes=notes)


PROTOCOL = {"kid": "unbiased MMD^2, cubic polynomial kernel, 100 subsets of min(1000, N/2)",
            "precision_recall": "k-NN manifolds, k = 3"}


def _training_split(c: Checkpoint | None, data: ImageData | None, split: str, data_root, cache_dir) -> ImageData | None:
    """The data the classifier behind domain features learns from: the training split, whichever is compared."""
    return data if data is None or split == "train" else checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)


def _inception_on_cpu(images: int, data: ImageData | None) -> str:
    return (f"note: Inception features on the CPU: {images:,} images through Inception v3 at a few a second, so minutes "
            "(the time left is shown once measured); a GPU takes seconds"
            + (", and --features domain uses the data set's own small classifier" if data is not None and data.label_names
               else ""))


def _fit_the_split(data: ImageData, split: str, n: int, n_note: str | None, default: bool,
                   on_note: Callable[[str], None]) -> tuple[int, str | None]:
    """(N, its note) against a real split smaller than N, said before the work: a default N shrinks
    to the split (it was a first look, not a request); an asked one stays, with the cheaper choice named."""
    held = int(data.images.shape[0])
    if held >= n:
        return n, n_note
    if default:
        n_note = f"N {held}: all the {split} split holds (the default {n:,} would compare unequal sides)"
        on_note(f"note: {n_note}")
        return held, n_note
    on_note(f"note: the {split} split holds {held:,} images: {n:,} generated against {held:,} real; "
            f"--n {held} compares equal numbers in a fraction of the time")
    return n, n_note


def _unequal_sides(n_fake: int, n_real: int) -> list[str]:
    """FID's bias depends on N: the two sides (and the figures compared with) should match."""
    if n_real >= n_fake:
        return []
    return [f"note: {n_fake:,} generated images against {n_real:,} real ones (all the real side holds); "
            f"pass --n {n_real} to compare equal numbers"]


def _check_request(n: int | None, batch_size: int, split: str, device) -> tuple[int, str | None]:
    """(N per side, a note when N is the off-GPU default); refuses sizes out of range."""
    n_note = None
    if n is None:
        n = default_n(device)
        if n < STANDARD_N:
            n_note = f"N {n}: the default off a GPU, a first look; --n {STANDARD_N} for the standard protocol"
    if not 2 <= n <= MAX_N:
        raise UsageError(f"--n must be 2 to {MAX_N:,}, got {n}")
    if not 1 <= batch_size <= 4096:
        raise UsageError(f"--batch-size must be 1 to 4096, got {batch_size}")
    if split not in ("train", "test"):
        raise UsageError(f"--split {split!r}: use train or test")
    return n, n_note


def _extractor(given: Extractor | None, features: str | None, data: ImageData | None, device,
               on_progress: Progress | None) -> tuple[Extractor, list[str]]:
    """The feature extractor (domain for a labelled data set unless asked otherwise) and its notes."""
    notes = []
    if features is None and given is None:
        features = default_features(data)
        if features == "inception" and data is not None and data.label_names:
            notes.append(f"note: Inception features, as the labels of {data.name} tell only one class apart "
                         "(domain features need two)")
    ex = given or make_extractor(features, data, device=device,
                                 on_progress=phase(on_progress, training_label(data) if data is not None else ""))
    return ex, notes + ([ex.classifier.note()] if isinstance(ex, DomainFeatures) else [])


def _generated(c: Checkpoint | None, images: Path | None, n: int, ex: Extractor, ema: bool | None, device,
               on_progress: Progress | None) -> tuple[np.ndarray, str]:
    """The generated side as uint8 (N, C, H, W): a folder of pictures, or seeds 0..n-1 of the checkpoint."""
    size = c.model_config.size if c is not None else None
    if images is not None:
        channels = 3 if ex.name == "inception" else (c.model_config.nc if c is not None else 3)
        fake_u8, how = load_folder(images, n, size, channels, "--images")
        if ex.name == "domain" and fake_u8.shape[1:] != (c.model_config.nc, size, size):
            raise UsageError(f"--images pictures are {fake_u8.shape[-1]} px; domain features need the model's {size} px")
        return fake_u8, f"folder {images}: {how}"
    G = c.generator(device, ema=ema)
    fake_u8 = uint8_from_seeds(G, list(range(n)), on_progress=phase(on_progress, "generating"))
    return fake_u8, f"{c.path} step {c.step}, {c.generator_name(ema)}, seeds 0-{n - 1}, quantised to uint8"


def _real_side(data: ImageData, n: int, ex: Extractor, cache_root: Path, batch_size: int, metrics, protocol: dict,
               on_progress: Progress | None) -> tuple[np.ndarray, float | None]:
    """The real side's features, and (for FID) the floor: real against a second real subset of N."""
    real_feats = _real_features(data, n, ex, cache_root, batch_size, phase(on_progress, "features of real images"))
    floor = None
    if "fid" in metrics:
        floor_feats = _real_features(data, n, ex, cache_root, batch_size,
                                     phase(on_progress, "features of more real images (the floor)"), second=True)
        if floor_feats is None:
            protocol["floor"] = (f"not measured: real against real at N={n} needs {2 * n:,} images, "
                                 f"the split has {data.images.shape[0]:,}")
        else:
            floor = fid(Stats.of(real_feats), Stats.of(floor_feats))
    return real_feats, floor


class TrainingEvaluator:
    """G -> metrics for `fit`'s --eval-every: seeds 0..n-1 against a fixed real subset.

    The extractor and the real features are built on the first call and kept. Nothing here draws
    from the global RNG (it runs under fork_rng), so a run that evaluates stays bit-identical to
    one that does not.
    """

    def __init__(self, data: ImageData, *, n: int, features: str | None, cache_root: Path,
                 device: torch.device | str = "cpu", metrics: tuple[str, ...] = METRICS):
        self.data, self.n, self.cache_root, self.device, self.metrics = data, n, Path(cache_root), torch.device(device), metrics
        self.features = features or default_features(data)
        self._extractor: Extractor | None = None
        self._real: np.ndarray | None = None

    def __call__(self, G) -> dict[str, float]:
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if self._extractor is None:
                self._extractor = make_extractor(self.features, self.data, device=self.device, flag="--eval-features")
            if self._real is None:
                self._real = _real_features(self.data, self.n, self._extractor, self.cache_root, 256, None)
            fake = extract(self._extractor, uint8_from_seeds(G, list(range(self.n))), batch_size=256)
            return compute(self._real, fake, self.metrics)
