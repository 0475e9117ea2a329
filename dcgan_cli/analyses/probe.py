"""Is D a good image representation? The paper's linear probe (Radford et al. 2015, section 5.1).

Every convolution block of D gives an activation map; each is max-pooled to a 4x4 grid,
flattened, and all are concatenated (28,672 values for the paper's 64 px ImageNet D). A
regularised linear classifier is trained on those features of the labelled training images and
scored on the test split: L2-regularised multinomial logistic regression. (The paper used an
L2-SVM; LinearSVC scores about the same here but fits an order of magnitude slower, too slow
for a C search over several controls: docs/analyses.md has the figures.) A probe
means little on its own, so the same protocol runs on two controls: the raw pixels, and a randomly initialised D of the same
architecture. scikit-learn does the classifying (`pip install 'dcgan-cli[probe]'`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..attributes.linear import C_GRID, linear_probe
from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.defaults import LABELS_PER_CLASS, PROBE_TEST_N
from ..core.errors import UsageError
from ..core.model import Discriminator
from ..core.pixels import flat_model_range, to_model_range
from ..core.progress import Progress, phase
from ..core.results import Result, shown
from ..core.seeds import check_seed
from ..data import ImageData, checkpoint_data, load_data

POOL = 4  # each map max-pooled to POOL x POOL, as in the paper
REPRESENTATIONS = ("trained D", "random D", "pixels")
PROTOCOL = {
    "features": f"every D block's activation map, max-pooled to {POOL}x{POOL}, concatenated (Radford et al. 5.1); D in eval mode",
    "classifier": f"standardised L2 logistic regression (scikit-learn, lbfgs), C from {list(C_GRID)} on a held-out 20%",
    "controls": "pixels: the image in [-1, 1], flattened; random D: the same architecture, untrained (seed)",
}


@dataclass
class ProbeRow:
    representation: str
    dim: int  # feature values per image
    accuracies: list[float]  # test accuracy of each repeat (a new draw of the labelled images)
    C: list[float]  # the regularisation chosen in each repeat

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def spread(self) -> float:
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0


@dataclass
class ProbeResult(Result):
    command = "probe"
    target: str
    classes: list[str]
    labels_per_class: int | None  # None: every labelled training image
    n_train: int  # labelled images per repeat
    n_test: int
    rows: list[ProbeRow]
    protocol: dict[str, Any] = field(default_factory=dict)
    checkpoint_path: Path | None = None
    step: int = 0

    def versus(self) -> list[dict[str, Any]]:
        """The trained D against each control: the gap in accuracy, the margin chance alone reaches (two
        standard errors: the repeats' spread and the test set's size), and what that means."""
        trained = next((r for r in self.rows if r.representation == "trained D"), None)
        out = []
        for r in self.rows if trained is not None else []:
            if r is trained:
                continue
            k = max(1, min(len(trained.accuracies), len(r.accuracies)))
            var = (trained.spread**2 + r.spread**2) / k
            var += sum(a * (1 - a) for a in (trained.accuracy, r.accuracy)) / max(1, self.n_test)
            gap, margin = trained.accuracy - r.accuracy, 2 * var**0.5
            verdict = ("no difference" if abs(gap) <= margin else "trained D is better" if gap > 0 else "trained D is worse")
            out.append({"control": r.representation, "gap": gap, "margin": margin, "verdict": verdict})
        return out

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoint_path"] = str(self.checkpoint_path) if self.checkpoint_path else None
        d["rows"] = [asdict(r) | {"accuracy": r.accuracy, "error": 1 - r.accuracy, "spread": r.spread} for r in self.rows]
        d["versus"] = self.versus()
        return d

    def lines(self) -> list[str]:
        per = f"{self.labels_per_class} labels per class" if self.labels_per_class else "all labels"
        out = [
            f"{shown(self.target)}: {len(self.classes)} classes, {per}"
            f" ({self.n_train} training images), {self.n_test} test images"
        ]
        for r in self.rows:
            spread = f" ± {r.spread:.2%}" if len(r.accuracies) > 1 else ""
            out.append(
                f"  {r.representation:10s} {r.dim:6d} features  accuracy {r.accuracy:.2%}{spread}  (error {1 - r.accuracy:.2%})"
            )
        for v in self.versus():
            out.append(f"trained D vs {v['control']}: {100 * v['gap']:+.1f} points, chance reaches ±{100 * v['margin']:.1f}: "
                       f"{v['verdict']}")
        accs = [r.accuracy for r in self.rows]
        if len(accs) > 1 and max(accs) - min(accs) < 0.01:
            out.append(f"the representations tie (within {max(accs) - min(accs):.1%}): this target is too easy to tell them "
                       "apart; try another --target or fewer --labels-per-class")
        return out


def d_representation(D: Discriminator, images: np.ndarray, *, device: torch.device | str = "cpu", batch: int = 256,
                     on_progress: Progress | None = None) -> np.ndarray:
    """(N, F) float32: every block of D max-pooled to 4x4 and concatenated, for uint8 images (N, C, S, S)."""
    D = D.to(device).eval()
    out = []
    with torch.no_grad():
        for i in range(0, images.shape[0], batch):
            x = to_model_range(torch.from_numpy(np.ascontiguousarray(images[i : i + batch]))).to(device)
            maps = D.feature_maps(x)
            out.append(torch.cat([F.adaptive_max_pool2d(m, POOL).flatten(1) for m in maps], 1).float().cpu().numpy())
            if on_progress is not None:
                on_progress(min(i + batch, images.shape[0]), images.shape[0])
    return np.concatenate(out)


def class_targets(data: ImageData, target: str | None) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(y, rows, class names, target name): the class of each image that has exactly one.

    A target is a label of a mutually exclusive group (its group's classes: digit, shape, colour)
    or a free binary attribute (present / absent, e.g. CelebA's Smiling); the default is the
    data set's first group.
    """
    if data.labels is None or not data.label_names:
        raise UsageError(
            f"{data.name} has no labels here; the probe needs a labelled data set (mnist, svhn, cifar10, celeba, shapes, ...)"
        )
    groups = [g for g in data.groups if len(g) >= 2]
    names = data.label_names
    if target is None:
        if not groups:
            # Only attributes both present and absent make a two-class problem worth suggesting.
            usable = [n for i, n in enumerate(names) if 0 < int(data.labels[:, i].sum()) < len(data.labels)]
            if not usable:
                raise UsageError(f"the labels of {data.name} ({', '.join(names[:6])}) tell no two classes apart; "
                                 "the probe needs a data set with two or more classes")
            raise UsageError(
                f"{data.name} has no class groups; choose an attribute with --target (one of: {', '.join(usable[:12])})"
            )
        group = groups[0]
    elif target in names:
        group = next((g for g in groups if target in g), None)
        if group is None:  # a free attribute: a two-class problem
            col = data.labels[:, names.index(target)].astype(np.int64)
            if col.min() == col.max():
                raise UsageError(f"--target {target!r}: every {data.split} image of {data.name} is "
                                 f"{'' if col[0] else 'not '}{target}, so there are no two classes to tell apart")
            return col, np.arange(len(col)), [f"not {target}", target], target
    else:
        raise UsageError(f"--target {target!r} is not a label of {data.name}; use one of: {', '.join(names)}")
    cols = [names.index(n) for n in group]
    onehot = data.labels[:, cols]
    rows = np.flatnonzero(onehot.sum(1) == 1)
    return (
        onehot[rows].argmax(1).astype(np.int64),
        rows,
        list(group),
        "/".join(group) if len(group) <= 4 else f"{group[0]}..{group[-1]}",
    )


def pick_labelled(y: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Indices of per_class images of each class (all of a class that has fewer), drawn with seed."""
    if per_class is None:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per_class] for c in np.unique(y)]))


def _check_request(ckpt: Checkpoint, train: ImageData, test: ImageData, labels_per_class: int | None, repeats: int,
                   test_n: int | None, representations: tuple[str, ...], seed: int) -> None:
    cfg = ckpt.model_config
    for d in (train, test):
        if d.images.shape[1:] != (cfg.nc, cfg.size, cfg.size):
            raise UsageError(f"the {d.split} images are {'x'.join(map(str, d.images.shape[1:]))} but D reads "
                             f"{cfg.nc}x{cfg.size}x{cfg.size}; prepare the data at the model's size and channels")
    if labels_per_class is not None and labels_per_class < 1:
        raise UsageError(f"--labels-per-class must be at least 1, got {labels_per_class}")
    check_seed(seed)
    if test_n is not None and test_n < 1:
        raise UsageError(f"--test-n must be at least 1, got {test_n}")
    if not 1 <= repeats <= 100:
        raise UsageError(f"--repeats must be 1 to 100, got {repeats}")
    unknown = set(representations) - set(REPRESENTATIONS)
    if unknown or not representations:
        raise UsageError(f"representations must be among {', '.join(REPRESENTATIONS)}")


def probe_features(
    ckpt: Checkpoint,
    train: ImageData,
    test: ImageData,
    *,
    target: str | None = None,
    labels_per_class: int | None = LABELS_PER_CLASS,
    repeats: int = 1,
    test_n: int | None = PROBE_TEST_N,
    representations: tuple[str, ...] = REPRESENTATIONS,
    seed: int = 0,
    device: torch.device | str = "cpu",
    on_progress: Progress | None = None,
) -> ProbeResult:
    """Probe the checkpoint's D and the controls on (train, test) images at the model's size."""
    _check_request(ckpt, train, test, labels_per_class, repeats, test_n, representations, seed)
    y_train, rows_train, classes, name = class_targets(train, target)
    y_test, rows_test, _, _ = class_targets(test, target)
    if test_n is not None and len(rows_test) > test_n:
        keep = np.sort(np.random.default_rng(seed).permutation(len(rows_test))[:test_n])
        y_test, rows_test = y_test[keep], rows_test[keep]
    if len(rows_test) == 0:
        raise UsageError(f"the {test.name} test split has no labelled images for {name}")
    draws = [pick_labelled(y_train, labels_per_class, seed + r) for r in range(repeats)]
    used = np.unique(np.concatenate(draws))  # features are computed once for every image any repeat uses
    where = {int(i): j for j, i in enumerate(used)}
    train_u8 = train.images[np.sort(rows_train[used])]  # sorted reads; rows_train is increasing, so the order holds
    test_u8 = test.images[rows_test]

    def features(kind: str, images: np.ndarray, which: str) -> np.ndarray:
        if kind == "pixels":
            return flat_model_range(images).numpy().astype(np.float32)
        D = ckpt.discriminator(device) if kind == "trained D" else _random_d(ckpt, seed)
        return d_representation(D, images, device=device,
                                on_progress=phase(on_progress, f"images: features ({kind}) of the {which} images"))

    rows_out = []
    for kind in representations:
        x_train, x_test = features(kind, train_u8, "labelled"), features(kind, test_u8, "test")
        accs, cs = [], []
        for r, idx in enumerate(draws):
            sel = [where[int(k)] for k in idx]
            # Each phase names itself and its unit: a fit on 10,000+ features takes minutes.
            what = (f"fits: a linear probe on {x_train.shape[1]:,} features ({kind})"
                    + (f", draw {r + 1} of {len(draws)}" if len(draws) > 1 else ""))
            acc, c = linear_probe(x_train[sel], y_train[idx], x_test, y_test, seed=seed + r, on_progress=phase(on_progress, what))
            accs.append(acc)
            cs.append(c)
        rows_out.append(ProbeRow(kind, int(x_train.shape[1]), accs, cs))
    return ProbeResult(target=name, classes=classes, labels_per_class=labels_per_class,
                       n_train=int(np.mean([len(d) for d in draws])), n_test=int(len(y_test)), rows=rows_out,
                       protocol=PROTOCOL | {"seed": seed, "repeats": repeats})


def _random_d(ckpt: Checkpoint, seed: int) -> Discriminator:
    with torch.random.fork_rng(devices=[]):  # the caller's random stream is left as it was
        torch.manual_seed(seed)
        return Discriminator(ckpt.model_config)


def probe(
    ckpt: Checkpoint | str | Path | None,
    *,
    dataset: str | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
    **options: Any,
) -> ProbeResult:
    """`dcgan probe`: the checkpoint's own data set (train and test splits), or `dataset` prepared at
    the model's size and channels (the paper probed an ImageNet-trained D on CIFAR-10)."""
    c = as_checkpoint(ckpt)
    if dataset is None:
        train = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
        test = checkpoint_data(c, "test", data_root=data_root, cache_dir=cache_dir)
    else:
        cfg = c.model_config
        train, test = (
            load_data(dataset, cfg.size, root=data_root, split=s, cache_root=cache_dir, channels=cfg.nc)
            for s in ("train", "test")
        )
    result = probe_features(c, train, test, on_progress=on_progress, **options)
    result.checkpoint_path, result.step = c.path, c.step
    return result
