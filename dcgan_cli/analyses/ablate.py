"""Forgetting to draw (Radford et al. 2015, section 6.3.1): find the feature maps of G's
second-highest layer that carry a concept, drop them, and see whether the concept goes.

The paper hand-drew boxes around windows and fit a logistic regression on the activations inside
them. Here no hand is needed: the concept of each generated sample comes from the labelled
sample bank (bank.py: the data set's classifier reads each sample), and where the object lies
comes from the image itself (masks.py: pixels that differ from the border's colour, which is
the background of the built-in shapes; an image without a clear object counts whole). The
activations at object positions of samples showing the concept are the positives, those at
object positions of samples that do not are the negatives; the maps with a positive weight are
dropped (set to zero), as in the paper. A control drops as many maps chosen at random.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..attributes.bank import sample_bank
from ..core.checkpoint import Checkpoint, as_checkpoint
from ..core.defaults import ABLATE_BANK
from ..core.errors import DcganError, UsageError
from ..core.model import z_from_seeds
from ..core.progress import Progress
from ..core.results import Result, shown
from ..core.seeds import check_seed, seeds_label
from ..data import checkpoint_data
from .masks import object_mask

MAX_VECTORS = 20_000  # activation vectors per side for the regression


@dataclass
class AblateResult(Result):
    command = "ablate"
    concept: str
    dropped: list[int]  # indices of the dropped maps
    maps: int  # maps in the layer
    share_before: float  # share of samples the attribute model sees the concept in
    share_after: float
    share_random: float  # after dropping as many random maps (the control)
    n: int  # samples measured
    before: torch.Tensor = field(repr=False)  # (S, C, H, W) shown seeds, intact
    after: torch.Tensor = field(repr=False)  # the same seeds with the maps dropped
    seeds: list[int] = field(default_factory=list)
    checkpoint_path: Path | None = None
    step: int = 0
    classifier: dict[str, Any] = field(default_factory=dict)  # the data set's classifier: accuracy, cache, reused
    notes: list[str] = field(default_factory=list)

    @property
    def margin(self) -> float:
        """Two standard errors of the difference between the two dropped shares, over n samples (add-one
        smoothed)."""
        n = max(1, self.n)
        a, r = ((p * n + 1) / (n + 2) for p in (self.share_after, self.share_random))  # a share of 0 still has an error
        return 2 * ((a * (1 - a) + r * (1 - r)) / n) ** 0.5

    @property
    def verdict(self) -> str:
        """Forgotten only when dropping the concept's maps lowers its share, and lowers it more than dropping
        as many random maps: a drop that random maps match is the layer losing capacity, not the concept."""
        fell = self.share_after < self.share_before - self.margin
        below_random = self.share_after < self.share_random - self.margin
        if fell and below_random:
            return "forgotten" if self.share_after <= self.share_before / 2 else "partly forgotten"
        if fell:
            return "not forgotten: as many random maps did as much"
        return "not forgotten: seen at least as often as before"

    def to_dict(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint_path), "step": self.step, "concept": self.concept, "verdict": self.verdict,
                "dropped": self.dropped,
                "maps": self.maps, "share_before": self.share_before, "share_after": self.share_after,
                "share_random_control": self.share_random, "n": self.n, "seeds": self.seeds, "classifier": self.classifier}

    def default_name(self) -> str:
        return f"{self.concept}-seeds-{seeds_label(self.seeds)}.png"

    def figure(self):
        from ..core.images import labelled_grid

        return labelled_grid([self.before, self.after], ["intact", f"{len(self.dropped)} '{self.concept}' maps dropped"],
                             [f"seed {s}" for s in self.seeds],
                             title=f"forgetting '{self.concept}': G's second-highest layer with and without its maps")

    def lines(self) -> list[str]:
        c = shown(self.concept)
        return [f"{c}: {self.verdict} (seen in {self.share_before:.1%} of {self.n} samples before, "
                f"{self.share_after:.1%} after; {self.share_random:.1%} after dropping as many random maps; "
                f"differences under {self.margin:.1%} are within chance)",
                f"dropped {len(self.dropped)} of {self.maps} maps of G's second-highest layer",
                "picture: the seeds intact (top row) and with the maps dropped (bottom row)", *self.notes]


def drop_maps(G, z: torch.Tensor, dropped: list[int], batch: int = 256) -> torch.Tensor:
    """Images from z with the given maps of G's second-highest layer set to zero."""
    device = next(G.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, z.shape[0], batch):
            maps = G.late_maps(z[i : i + batch].to(device))
            if dropped:
                maps[:, dropped] = 0
            out.append(G.draw(maps).cpu())
    return torch.cat(out)


def concept_maps(G, z: torch.Tensor, shows: torch.Tensor, batch: int = 256, seed: int = 0) -> list[int]:
    """The maps whose activations at object positions tell samples showing the concept (shows)
    from the others: positive weights of a logistic regression, as the paper did."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise DcganError("ablate needs scikit-learn: pip install 'dcgan-cli[probe]'") from None
    device = next(G.parameters()).device
    pos, neg = [], []
    with torch.no_grad():
        for i in range(0, z.shape[0], batch):
            maps = G.late_maps(z[i : i + batch].to(device)).cpu()
            mask = object_mask(G.draw(maps.to(device)).cpu(), maps.shape[-1])
            vectors = maps.permute(0, 2, 3, 1)  # (B, h, w, C)
            s = shows[i : i + batch]
            pos.append(vectors[s][mask[s]])
            neg.append(vectors[~s][mask[~s]])
    pos_v, neg_v = torch.cat(pos).numpy(), torch.cat(neg).numpy()
    rng = np.random.default_rng(seed)
    pos_v = pos_v[rng.permutation(len(pos_v))[:MAX_VECTORS]]
    neg_v = neg_v[rng.permutation(len(neg_v))[:MAX_VECTORS]]
    x = np.concatenate([pos_v, neg_v])
    y = np.concatenate([np.ones(len(pos_v)), np.zeros(len(neg_v))])
    model = LogisticRegression(C=0.1, max_iter=500).fit(StandardScaler().fit_transform(x), y)
    return [int(i) for i in np.flatnonzero(model.coef_[0] > 0)]


def ablate(
    ckpt: Checkpoint | str | Path | None,
    concept: str,
    *,
    n: int = ABLATE_BANK,
    seeds: list[int] | None = None,
    seed: int = 0,
    ema: bool | None = None,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    device: torch.device | str = "cpu",
    on_progress: Progress | None = None,
) -> AblateResult:
    """`dcgan ablate`: drop the maps that carry `concept` (a label of the checkpoint's data set)."""
    check_seed(seed)
    c = as_checkpoint(ckpt)
    if not 64 <= n <= 100_000:
        raise UsageError(f"--bank must be 64 to 100,000, got {n}")
    data = checkpoint_data(c, "train", data_root=data_root, cache_dir=cache_dir)
    if concept not in data.label_names:
        raise UsageError(
            f"--concept {concept!r} is not a label of {data.name}; use one of: {', '.join(data.label_names) or '(none)'}"
        )
    shown_seeds = seeds if seeds is not None else list(range(16))
    if not 1 <= len(shown_seeds) <= 256:
        raise UsageError(f"ablate shows 1 to 256 seeds, got {len(shown_seeds)}")
    bank = sample_bank(c, data, n=n, seed=seed, device=device, ema=ema, on_progress=on_progress)
    col = data.label_names.index(concept)
    shows = bank.probs[:, col] > 0.5
    if shows.sum() < 8 or (~shows).sum() < 8:
        raise DcganError(f"the attribute model sees {concept!r} in {int(shows.sum())} of {n} samples; "
                         "ablation needs both kinds (train longer, or pick another concept)")
    G = c.generator(device, ema=ema)
    dropped = concept_maps(G, bank.z, shows, seed=seed)
    am = bank.classifier

    def share(images: torch.Tensor) -> float:
        return float((am.predict(images)[:, col] > 0.5).float().mean())

    maps = G.late_maps(bank.z[:1].to(device)).shape[1]
    rng = np.random.default_rng(seed)
    random_maps = [int(i) for i in rng.permutation(maps)[: len(dropped)]]
    z_shown = z_from_seeds(c.model_config, shown_seeds)
    return AblateResult(concept=concept, dropped=dropped, maps=int(maps), share_before=float(shows.float().mean()),
                        share_after=share(drop_maps(G, bank.z, dropped)),
                        share_random=share(drop_maps(G, bank.z, random_maps)), n=n, before=drop_maps(G, z_shown, []),
                        after=drop_maps(G, z_shown, dropped), seeds=shown_seeds, checkpoint_path=c.path, step=c.step,
                        classifier=am.describe(), notes=[am.note()])
