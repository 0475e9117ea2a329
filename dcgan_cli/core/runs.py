"""The run folder: the one place that names its layout, and the lock that makes it one run's.

    RUN/run.json                       marks the folder as a dcgan-cli run
    RUN/.lock                          held (an OS-level lock) while a run trains into the folder
    RUN/checkpoints/step-NNNNNNNN.safetensors
    RUN/samples/step-NNNNNNNN.png      the fixed-seed grid at that step
    RUN/metrics.jsonl
    RUN/best.safetensors               the best checkpoint by --eval-metric, when --eval-every is on
    RUN/tensorboard/                   TensorBoard events (--tensorboard)
    RUN/plots/                         curves.png, progress.gif, real-vs-fake.png (`dcgan plot`)
    RUN/concepts/                      arithmetic's labelled sample banks
    RUN/<command>/                     outputs of sample, interpolate, arithmetic, nn-search given no --out
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import DcganError, UsageError

CHECKPOINTS = "checkpoints"
CHECKPOINT_NAME = re.compile(r"step-(\d+)\.safetensors")  # the names checkpoint_path gives, and nothing else
SAMPLES = "samples"
CONCEPTS = "concepts"
METRICS = "metrics.jsonl"
BEST = "best.safetensors"
MARKER = "run.json"
LOCK = ".lock"
RUNS_DIR = "runs"


class RunBusyError(DcganError):
    pass


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def checkpoints(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def concepts(self) -> Path:
        return self.path / CONCEPTS

    @property
    def metrics(self) -> Path:
        return self.path / METRICS

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def plots(self) -> Path:
        return self.path / "plots"

    def list_grids(self) -> list[tuple[int, Path]]:
        """The fixed-seed grids, (step, path), in step order."""
        found = []
        for p in self.samples.glob("step-*.png") if self.samples.is_dir() else []:
            stem = p.stem.removeprefix("step-")
            if stem.isdigit():
                found.append((int(stem), p))
        return sorted(found)

    def read_metrics(self) -> list[dict]:
        """The metrics log's records, in order; lines that do not parse (cut short by a kill) are left out."""
        records = []
        if self.metrics.is_file():
            for line in self.metrics.read_text(errors="replace").splitlines():
                try:
                    rec = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("step"), int) and not isinstance(rec.get("step"), bool):
                    records.append(rec)
        return records

    @property
    def best(self) -> Path:
        return self.path / BEST

    def checkpoint_path(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:08d}.safetensors"  # CHECKPOINT_NAME reads it back

    def grid_path(self, step: int) -> Path:
        return self.samples / f"step-{step:08d}.png"

    def checkpoint_files(self) -> list[Path]:
        """The regular .safetensors files in checkpoints/ (checkpoint.run_checkpoints orders them by step)."""
        if not self.checkpoints.is_dir():
            return []
        return sorted(p for p in self.checkpoints.glob("*.safetensors") if _is_file(p))

    def is_run(self) -> bool:
        """Written by dcgan train: its marker, or (before markers existed) checkpoints/ beside metrics.jsonl."""
        return self.marker.is_file() or (self.checkpoints.is_dir() and self.metrics.is_file())

    @classmethod
    def of_checkpoint(cls, path: Path) -> RunFolder | None:
        """The run a checkpoint file belongs to, or None for a file that sits in no recognisable run."""
        path = Path(path).absolute()
        if path.name == BEST and cls(path.parent).is_run():
            return cls(path.parent)
        if path.parent.name != CHECKPOINTS:
            return None
        run = cls(path.parent.parent)
        return run if run.is_run() else None

    def write_marker(self, info: dict) -> None:
        from .files import write_json

        write_json(self.marker, info, what="run marker")

    def marker_info(self) -> dict:
        """run.json's content ({} when missing or unreadable)."""
        try:
            info = json.loads(self.marker.read_text())
        except (OSError, ValueError, RecursionError):
            return {}
        return info if isinstance(info, dict) else {}

    def run_id(self) -> str | None:
        """The id every checkpoint of this run carries (runs from before ids have none)."""
        rid = self.marker_info().get("run_id")
        return rid if isinstance(rid, str) else None

    def check_free(self) -> None:
        """Fail with RunBusyError now if another process holds the folder (without keeping the lock)."""
        if (self.path / LOCK).exists():
            with self.lock():
                pass

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process until the block ends; a second run fails at once."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            if e.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                raise
            why = "is on a read-only file system" if e.errno == errno.EROFS else "cannot be written here (permission denied)"
            raise UsageError(f"the run folder {self.path} {why}; copy it somewhere writable and --resume the copy, "
                             "or continue into a new folder with --out NEW") from None
        try:
            if not _try_lock(fd):
                owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                raise RunBusyError(
                    f"{self.path} is in use by another dcgan run ({owner}); wait for it to finish or pick another --out"
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock, also when the process dies


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as e:
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def _is_file(p: Path) -> bool:
    try:
        return stat.S_ISREG(p.stat().st_mode)
    except OSError:
        return False


def output_path(ckpt_path: Path, step: int, command: str, name: str) -> Path:
    """Where a command writes when given no --out: RUN/<command>/step-N-<name>, named by its parameters.

    A checkpoint that sits in no run folder gets a folder beside it, <stem>-<command>/; a bundled
    model, whose folder may be read-only, the working folder's NAME-<command>/ (its caches the user's).
    """
    from .. import bundled

    run = RunFolder.of_checkpoint(ckpt_path)
    if run is not None:
        base = run.path / command
    elif bundled.is_bundled(ckpt_path):
        base = bundled.work_folder(Path(ckpt_path), command)
    else:
        base = Path(ckpt_path).parent / f"{Path(ckpt_path).stem}-{command}"
    return base / f"step-{step:08d}-{name}"
