"""The linear probe: how well a standardised logistic regression reads labels from features.
The paper's probe of D (analyses/probe.py) and the z separability report (arithmetic/) both use it."""

from __future__ import annotations

import warnings

import numpy as np

from ..core.errors import DcganError, UsageError
from ..core.progress import Progress

C_GRID = (1e-3, 1e-2, 1e-1)  # inverse L2 regularisation, chosen on a held-out fifth of the labelled images


def linear_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int = 0,
    on_progress: Progress | None = None,
) -> tuple[float, float]:
    """(test accuracy, C) of a standardised logistic regression whose C is chosen on a held-out fifth of the
    training set. `on_progress` hears each fit (one per C tried, then the final one): on wide features a fit
    takes a minute, and a silent probe looked hung."""
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise DcganError("the probe needs scikit-learn: pip install 'dcgan-cli[probe]'") from None
    if not (np.isfinite(x_train).all() and np.isfinite(x_test).all()):
        raise DcganError("the features hold NaN or infinite values (the network's activations overflow); "
                         "the probe cannot fit them: use an earlier checkpoint")
    classes, counts = np.unique(y_train, return_counts=True)
    if len(classes) < 2:
        raise UsageError("the labelled training images hold only one class; the probe needs at least two")

    def fit_linear(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=300)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # an unconverged fit is still scored; C picks the one that works
        if len(y_train) >= 5 * len(classes):
            a, b, ya, yb = train_test_split(x_train, y_train, test_size=0.2, random_state=seed,
                                            stratify=y_train if counts.min() >= 2 else None)
            scaler = StandardScaler().fit(a)
            fits = len(C_GRID) + 1
            scores = []
            for k, c in enumerate(C_GRID):
                if on_progress is not None:
                    on_progress(k, fits)
                scores.append(fit_linear(c).fit(scaler.transform(a), ya).score(scaler.transform(b), yb))
            best = C_GRID[int(np.argmax(scores))]
            if on_progress is not None:
                on_progress(len(C_GRID), fits)
        else:  # too few labelled images to hold a fifth out: the grid's middle
            best = C_GRID[len(C_GRID) // 2]
        scaler = StandardScaler().fit(x_train)
        accuracy = fit_linear(best).fit(scaler.transform(x_train), y_train).score(scaler.transform(x_test), y_test)
    if on_progress is not None:
        on_progress(1, 1)
    return float(accuracy), best
