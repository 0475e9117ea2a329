"""What a training run is asked for, before the settings' layers are merged: `dcgan train`'s flags and
the Python API's keywords arrive as one `TrainRequest`, which `plan_run` settles into a `RunPlan`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainRequest:
    """None (and an absent key) is "not given": the preset, the recipe, a --config file and a resumed run's
    stored settings fill it in (core/recipes.py merges them)."""

    dataset: str | None = None
    preset: str | None = None
    recipe: str | None = None
    config_file: Path | None = None
    model: Mapping[str, Any] = field(default_factory=dict)  # ModelConfig fields given: {"ngf": 32}
    train: Mapping[str, Any] = field(default_factory=dict)  # TrainConfig fields given: {"max_steps": 200}
    out: Path | None = None  # the run folder; None: runs/<dataset>-<size>-<time>
    resume: Path | None = None  # a run folder or checkpoint to continue exactly
    data_root: Path | None = None
    cache_dir: Path | None = None
    download: bool = False
    channels: int | None = None  # 1 or 3; None: the data set's (a resumed run's: its model's)

    def given(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The model and train settings actually given (None dropped), as fresh dicts."""
        return ({k: v for k, v in (self.model or {}).items() if v is not None},
                {k: v for k, v in (self.train or {}).items() if v is not None})
