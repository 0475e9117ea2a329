"""Planning a training run: configs, resume, the data and its channels, the run folder.

`plan_run` settles everything `fit` needs and refuses what cannot work before any training
starts; `train` runs a plan. The CLI's `dcgan train` is these two calls.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from ..attributes.classifier import classes_to_learn, labels_problem
from ..core.checkpoint import Checkpoint, DatasetRecord, damaged_best, load_checkpoint, run_best, run_checkpoints
from ..core.configs import LONG_RUN_EVALS, LONG_RUN_STEPS, ModelConfig, TrainConfig
from ..core.errors import UsageError
from ..core.model import parameter_count
from ..core.progress import Progress
from ..core.recipes import FAMILY_RECIPES, build_configs, family, recipe_words, resume_configs
from ..core.results import shown
from ..core.runs import RUNS_DIR, RunFolder
from ..data import ImageData, checkpoint_data, load_data
from ..data.cache import default_cache_root, read_manifest
from .distributed import World, on_main
from .loop import fit
from .request import TrainRequest
from .result import TrainResult
from .snapshot import refuse_a_run_in, stored_world_size

# Past this a model's weights, gradients and Adam states alone outgrow any single card.
MAX_PARAMETERS = 2_000_000_000


@dataclass
class RunPlan:
    model: ModelConfig
    train: TrainConfig
    run: RunFolder
    data: ImageData
    dataset: DatasetRecord  # what the checkpoints record of the training data
    resume: Checkpoint | None = None
    notes: list[str] = field(default_factory=list)  # things the user should know, one line each
    cache_root: Path | None = None  # where evaluation caches its feature classifier and real features
    world: World = field(default_factory=World)  # the processes training together (torchrun)

    @property
    def global_batch(self) -> int:
        return self.train.batch_size * self.world.size

    @property
    def steps_per_epoch(self) -> int:
        return self.train.steps_per_epoch(self.data.images.shape[0], self.world.size)

    @property
    def total_steps(self) -> int:
        return self.train.total_steps(max(1, self.steps_per_epoch), self.world.size)

    def abort_note(self) -> str:
        """What a second Ctrl-C leaves behind: the newest checkpoint on disk, or none."""
        found = run_checkpoints(self.run)
        kept = f"the last checkpoint, {found[-1]}, is kept" if found else "no checkpoint was written yet"
        return f"aborted without saving; {kept}"

    def recipe_line(self) -> str:
        """The run's recipe in one line: its name, what it changes from the paper's, how to get the paper's."""
        t = self.train
        words = recipe_words(t, self.model)
        name = t.recipe or "settings of an earlier version"
        if t.recipe == "default":
            kind = family(t.dataset, self.model.size)
            name = f"default for {kind}"
            if "batch_size" in FAMILY_RECIPES[kind]:
                words = ", ".join(filter(None, [words, f"batch {t.batch_size}"]))
        if not words:
            return f"recipe: {name} (Radford et al.'s procedure)"
        tail = "; --recipe paper trains Radford et al.'s exactly" if t.recipe != "paper" and self.resume is None else ""
        return f"recipe: {name} ({words}){tail}"

    def describe(self, device: torch.device | str) -> str:
        """One line: what will train, how long, where."""
        procs = (
            f" in {self.world.size} processes (global batch {self.global_batch} = {self.world.size} x {self.train.batch_size})"
            if self.world.active
            else ""
        )
        from .precision import precision_line, resolve_precision

        return (f"training {self.train.dataset} {self.model.size}px x{self.model.nc} ({self.data.images.shape[0]} images) "
                f"for {self.total_steps} steps on {device}{procs} into {self.run.path}; "
                f"{precision_line(resolve_precision(self.train, device))}")


def plan_run(request: TrainRequest | None = None, *, runs_dir: Path = Path(RUNS_DIR), on_progress: Progress | None = None,
             world: World | None = None, **asked: Any) -> RunPlan:
    """Merge the settings, open (or prepare) the data, and choose the run folder.

    `request` is what the run is asked for (`dcgan train`'s flags); from Python, its fields may be given as
    keywords instead: `plan_run(dataset="shapes", train={"max_steps": 200}, out="runs/api")`. With `resume`,
    the stored settings win; only how long to train and how often to log or keep may change. A resumed
    checkpoint writes back only into the run folder it belongs to, or into a new `out`.

    With a `world` of several processes, rank 0 plans first (preparing the data, naming the run
    folder); the other ranks then plan the same run, and an error on rank 0 stops them all.
    """
    if request is not None and asked:
        raise TypeError("plan_run takes a TrainRequest or its fields as keywords, not both")
    request = request if request is not None else TrainRequest(**asked)
    world = world or World()
    if not world.active:
        plan = _plan(request, runs_dir, on_progress)
    else:
        plan = on_main(world, _plan, request, runs_dir, on_progress)
        folder = world.broadcast(str(plan.run.path) if plan is not None else None)
        if not world.main:
            # The folder rank 0 chose (and will lock); only rank 0 checks it is free.
            plan = _plan(replace(request, out=Path(folder)), runs_dir, None, claimed=True)
        plan = replace(plan, world=world)
    t = plan.train
    if t.max_steps is not None and t.epochs is not None:
        spe = max(1, plan.steps_per_epoch)  # global steps: with several processes an epoch has fewer
        if t.epochs * spe < t.max_steps:
            plan.notes.append(f"--epochs {t.epochs} ends the run at step {t.epochs * spe}, before --max-steps {t.max_steps}; "
                              f"give --epochs {math.ceil(t.max_steps / spe)} or leave it out")
    if plan.resume is not None:
        before = stored_world_size(plan.resume)
        if before != world.size:
            plan.notes.append(
                f"the run was trained by {before} process(es) and continues with {world.size}: the global batch changes from "
                f"{plan.train.batch_size * before} to {plan.global_batch}, and so does the data order from here"
            )
    return plan


def _plan(request: TrainRequest, runs_dir: Path, on_progress: Progress | None, claimed: bool = False) -> RunPlan:
    r = request
    model, train = r.given()
    notes: list[str] = []
    if r.resume is not None:
        ckpt, mcfg, tcfg, run = _resumed(r, model, train, claimed, notes)
    else:
        ckpt = None
        mcfg, tcfg = build_configs(r.dataset, preset=r.preset, recipe=r.recipe, config_file=r.config_file,
                                   model_overrides=model, train_overrides=train)
        run = _new_run_folder(
            Path(r.out) if r.out is not None else runs_dir / f"{tcfg.dataset}-{mcfg.size}-{time.strftime('%Y%m%d-%H%M%S')}",
            claimed)
    params = parameter_count(mcfg)
    if params > MAX_PARAMETERS:
        raise UsageError(
            f"this model has {params / 1e9:.1f} billion parameters (about {params * 16 / 2**30:.0f} GiB with gradients and "
            "Adam states); lower --ngf, --ndf or --nz"
        )

    if ckpt is not None and r.data_root is None:
        # The stored data root is never followed: the cache that matches the run's data fingerprint is.
        data = checkpoint_data(ckpt, "train", cache_dir=r.cache_dir, on_progress=on_progress)
    else:
        # A batch no flag or file asked for may shrink to fit a small data set (97 photos), said in a note.
        chosen = ckpt is None and train.get("batch_size") is None and r.config_file is None
        data = load_data(tcfg.dataset, mcfg.size, root=r.data_root, cache_root=r.cache_dir, download=r.download,
                         channels=r.channels if r.channels is not None else (mcfg.nc if ckpt is not None else None),
                         min_count=2 if chosen else tcfg.batch_size, on_progress=on_progress)
        if chosen:
            tcfg = _batch_that_fits(tcfg, int(data.images.shape[0]), notes)
    if data.cache_dir is not None:
        manifest = read_manifest(data.cache_dir)
        for folder in manifest.get("unreadable_folders") or []:
            notes.append(f"{folder} under the data root could not be read; its images are not in the data set")
        if manifest.get("skipped"):  # said on every run from this cache, as `data prepare` says it
            files = [shown(str(f)) for f in (manifest.get("skipped_files") or [])[:3]]
            first = f" ({', '.join(files)}{', ...' if manifest['skipped'] > len(files) else ''})" if files else ""
            notes.append(f"{manifest['skipped']} unreadable or over-large file(s) skipped{first}; "
                         "`dcgan data prepare --rebuild` lists them all")
    if data.channels != mcfg.nc:
        if ckpt is not None:
            raise UsageError(
                f"the data set has {data.channels} channels but the resumed model makes {mcfg.nc}; add --channels {mcfg.nc}"
            )
        mcfg = replace(mcfg, nc=data.channels)
    root = str(r.data_root) if r.data_root else (ckpt.dataset.root if ckpt is not None else None)
    _check_extras(tcfg, data, notes)
    tcfg = _keep_the_best_of_a_long_run(tcfg, data, ckpt is None, notes)
    return RunPlan(mcfg, tcfg, run, data, data.record(root), ckpt, notes,
                   Path(r.cache_dir) if r.cache_dir is not None else default_cache_root())


def _resumed(r: TrainRequest, model: dict[str, Any], train: dict[str, Any], claimed: bool,
             notes: list[str]) -> tuple[Checkpoint, ModelConfig, TrainConfig, RunFolder]:
    """A resumed run's checkpoint, configs (stored, with what may change on a resume) and run folder."""
    resume, dataset, channels, out = r.resume, r.dataset, r.channels, r.out
    if r.preset or r.config_file or r.recipe:
        raise UsageError("--preset, --recipe and --config cannot be used with --resume: the run keeps its stored settings")
    ckpt = load_checkpoint(resume)
    made = ckpt.meta.get("provenance")
    if isinstance(made, dict):
        raise UsageError(f"{resume} is a model handed out without its optimiser state, so it cannot be resumed; "
                         f"train one like it with: {shown(str(made.get('command', 'the command in `dcgan info`')))}")
    stored = ckpt.train_config
    if dataset is not None and dataset != stored.dataset:
        raise UsageError(f"cannot change --dataset on --resume (the run has {stored.dataset!r}, you gave {dataset!r})")
    if channels is not None and channels != ckpt.model_config.nc:
        raise UsageError(f"cannot change --channels on --resume (the run has {ckpt.model_config.nc})")
    mcfg, tcfg = ckpt.model_config, resume_configs(ckpt.model_config, stored, model, train)
    home = ckpt.run
    if out is not None and (home is None or Path(out).resolve() != home.path.resolve()):
        run = _new_run_folder(Path(out), claimed)
        notes.append(f"continuing from {ckpt.path} (step {ckpt.step}) in a new run folder {run.path}")
    elif home is not None:
        run = home
        best = ckpt.meta.get("best")
        if isinstance(best, dict) and best and run_best(run) is None:
            why = damaged_best(run) or f"{run.best} is missing"
            value = best.get("value")
            shown_value = f"{value:.4g}" if isinstance(value, (int, float)) else "?"
            notes.append(f"{why.split(';')[0]}: the best so far ({best.get('metric')} {shown_value} at step {best.get('step')}) "
                         "is forgotten, and the next measurement keeps a new best.safetensors")
    else:
        raise UsageError(
            f"{ckpt.path} is not inside a run folder (RUN/checkpoints/), so there is nowhere safe to write; "
            "continue it into a new folder with --out NEW_FOLDER"
        )
    return ckpt, mcfg, tcfg, run


def _batch_that_fits(tcfg: TrainConfig, count: int, notes: list[str]) -> TrainConfig:
    """The default batch, or the largest power of two that a data set smaller than it fills."""
    n = count if tcfg.limit is None else min(tcfg.limit, count)
    if n >= tcfg.batch_size:
        return tcfg
    batch = 2 ** int(math.log2(max(2, n)))
    notes.append(f"the data set holds {n:,} images, fewer than the default batch of {tcfg.batch_size}: "
                 f"training with batch {batch} (--batch-size sets another)")
    return replace(tcfg, batch_size=batch)


def _check_extras(tcfg: TrainConfig, data: ImageData, notes: list[str]) -> None:
    """What the asked settings need: the tensorboard package, labels for domain features."""
    if tcfg.tensorboard:
        import importlib.util

        if importlib.util.find_spec("tensorboard") is None:
            raise UsageError("--tensorboard needs the tensorboard package: pip install 'dcgan-cli[tensorboard]'")
    if tcfg.eval_features == "domain" and classes_to_learn(data) < 2:
        what = labels_problem(data)
        raise UsageError(f"--eval-features domain needs labels that tell two or more classes apart, and {tcfg.dataset} {what}; "
                         "use --eval-features inception")
    if tcfg.eval_every and tcfg.eval_features is None and data.label_names and classes_to_learn(data) < 2:
        notes.append(f"--eval-every measures in Inception features: the labels of {tcfg.dataset} tell only one class apart")


def _keep_the_best_of_a_long_run(tcfg: TrainConfig, data: ImageData, new: bool, notes: list[str]) -> TrainConfig:
    """A new run of LONG_RUN_STEPS or more with no --eval-every measures domain FID LONG_RUN_EVALS
    times (2,048 images a side, about a second each on a GPU) and keeps best.safetensors; a short
    run, or data with no labels to measure by, pays nothing."""
    if not new or tcfg.eval_every is not None:
        return tcfg
    total = tcfg.total_steps(max(1, tcfg.steps_per_epoch(data.images.shape[0])))
    if total < LONG_RUN_STEPS or tcfg.eval_features not in (None, "domain") or classes_to_learn(data) < 2:
        return tcfg
    every = math.ceil(total / LONG_RUN_EVALS)
    notes.append(f"a long run ({total:,} steps): domain FID is measured every {every:,} steps and the best kept as "
                 "RUN/best.safetensors, which sample, explore and the analyses use; --eval-every 0 turns this off")
    return replace(tcfg, eval_every=every, eval_features="domain")


def cpp_compiler() -> str | None:
    """The C++ compiler torch.compile's CPU backend will call, checked as it checks one (`$CXX --version`; $CXX
    alone when set, else g++, clang++ on macOS), or None: said before training, not in an InductorError after."""
    import os
    import subprocess
    import sys

    cxx = os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++")
    try:
        subprocess.run([cxx, "--version"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return cxx


def _new_run_folder(path: Path, claimed: bool = False) -> RunFolder:
    run = RunFolder(path)
    if claimed:
        return run
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; give a folder for the run")
    run.check_free()
    refuse_a_run_in(run)
    return run


def train(
    plan: RunPlan,
    *,
    device: torch.device | str = "cpu",
    on_step: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Run a plan: train into its run folder (locked while it runs), measuring quality if asked, and
    draw the run's pictures (curves, progress animation, real vs fake) when it ends."""
    if plan.train.compile and torch.device(device).type == "cpu" and cpp_compiler() is None:
        import os

        cxx = f"CXX={os.environ['CXX']} is not a working C++ compiler" if os.environ.get("CXX") else "no C++ compiler (g++) found"
        raise UsageError(f"--compile on the CPU needs a C++ compiler (torch.compile builds its kernels with it) and {cxx}: "
                         "install g++ (apt-get install g++) or set CXX to one, or train without --compile")
    evaluator = None
    if plan.train.eval_every and plan.world.main:
        from ..evaluation import TrainingEvaluator

        evaluator = TrainingEvaluator(plan.data, n=plan.train.eval_n, features=plan.train.eval_features,
                                      cache_root=plan.cache_root or default_cache_root(), device=device)
    result = fit(plan.model, plan.train, plan.data.images, plan.run.path, dataset=plan.dataset, device=device,
                 resume=plan.resume, on_step=on_step, should_stop=should_stop, evaluator=evaluator, world=plan.world)
    if plan.world.main and (not result.interrupted or result.checkpoint is not None):  # a stopped run's pictures too
        from ..data.cache import real_subset
        from .plots import plot_run

        result.pictures = plot_run(plan.run.path, real_u8=real_subset(plan.data, 64)).drawn
    return result
