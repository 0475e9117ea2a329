"""The models that ship inside the package, by name: `dcgan sample shapes`, `dcgan explore mnist`.

Each `NAME.safetensors` here is a checkpoint written by scripts/train_models.py from a run of
`dcgan train` (G, its EMA generator where that measured better, and D; no optimiser states), its
metadata holding how it was made ("provenance"). A name works wherever a checkpoint path does; a
path that exists wins over a name. The installed package may be read-only, so nothing is ever
written here: a command's default outputs for a bundled model go to the working folder
(`NAME-COMMAND/`) and its caches (concept banks, encoders) to the user's cache folder.

This module imports no torch: `dcgan --help` and name resolution stay fast.
"""

from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
SUFFIX = ".safetensors"
CACHES = ("concepts", "encoders")  # what a command keeps for a checkpoint, as opposed to what it outputs


def names() -> list[str]:
    """The bundled models present in this install, sorted."""
    return sorted(p.stem for p in MODELS_DIR.glob(f"*{SUFFIX}") if p.is_file())


def path_of(name: str) -> Path | None:
    """The bundled model called `name`, or None when there is none (a word with a path's parts is never a name)."""
    if not name or name != Path(name).name or name.startswith(".") or name.endswith(SUFFIX):
        return None
    path = MODELS_DIR / f"{name}{SUFFIX}"
    return path if path.is_file() else None


def names_a_model(arg: str | Path) -> bool:
    """Whether a command-line word is a bundled model's name rather than a path (a path that exists wins)."""
    return not Path(arg).exists() and path_of(str(arg)) is not None


def is_bundled(path: str | Path) -> bool:
    """Whether `path` is one of the bundled model files (compared after resolving links)."""
    try:
        p = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return p.parent == MODELS_DIR and p.suffix == SUFFIX and p.is_file()


def names_hint() -> str:
    found = names()
    return f"a bundled model name ({', '.join(found)}; `dcgan models` lists them)" if found else "a bundled model name"


def user_cache_root() -> Path:
    """The user's dcgan cache ($DCGAN_CACHE, else ~/.cache/dcgan/cache), as the data caches use."""
    return Path(os.environ.get("DCGAN_CACHE", Path.home() / ".cache" / "dcgan" / "cache"))


def work_folder(path: Path, command: str) -> Path:
    """Where a command writes for the bundled model at `path`: its caches under the user's cache folder
    (keyed by the file's size and time, so a reinstalled model does not reuse another's), its
    outputs in the working folder, `NAME-COMMAND/`, as a checkpoint on its own writes beside itself."""
    path = Path(path)
    if command in CACHES:
        st = path.stat()
        return user_cache_root() / "bundled" / f"{path.stem}-{st.st_size}-{st.st_mtime_ns}" / command
    return Path.cwd() / f"{path.stem}-{command}"
