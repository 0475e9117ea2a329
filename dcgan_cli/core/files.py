"""Atomic file writes: every file the tool writes goes to a recognisable temp name beside its
target, is flushed to disk, and is renamed over the target, so a crash never leaves half a file.

Temp names look like `.NAME.dcgan-tmp-PID`; `remove_stale_temps` clears the ones a killed
process left behind.
"""

from __future__ import annotations

import errno
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import DcganError, UsageError

TEMP_MARK = ".dcgan-tmp-"


class OutputError(DcganError):
    pass


def temp_path(path: Path) -> Path:
    # The suffix stays last so that Pillow can still tell the format from the name.
    return path.with_name(f".{path.stem}{TEMP_MARK}{os.getpid()}{path.suffix}")


def write_atomic(path: str | Path, write: Callable[[Path], None], *, what: str = "output") -> Path:
    """Call write(temp) then rename temp over path. OS errors become one-line OutputErrors."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        raise OutputError(describe_os_error(e, path, what)) from None
    finally:
        try:
            tmp.unlink()
        except OSError:
            pass
    return path


def check_file_target(path: Path | None, flag: str) -> None:
    """Refuse, before any work, a report path that cannot take a file (a folder, or under a file)."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name such as {path / 'report.json'}")
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise UsageError(f"{flag} {path}: a file stands where a folder is needed on that path")


def describe_os_error(e: OSError, path: Path, what: str = "output") -> str:
    if e.errno == errno.ENOSPC:
        return f"cannot write {what} {path}: the disk is full; free some space or pick another folder"
    if e.errno in (errno.EROFS,):
        return f"cannot write {what} {path}: the file system is read-only; pick another folder"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {what} {path}: permission denied; pick a folder you can write to"
    if e.errno == errno.EISDIR:
        return f"cannot write {what} {path}: it is a folder; give a file name"
    if e.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"cannot write {what} {path}: a file stands where a folder is needed on that path"
    return f"cannot write {what} {path}: {e.strerror or e}"


def write_bytes(path: str | Path, data: bytes, *, what: str = "output") -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return write_atomic(path, write, what=what)


def check_finite(obj: Any, where: str = "") -> None:
    """JSON has no NaN or Infinity: refuse them rather than write an invalid file."""
    if isinstance(obj, float) and not math.isfinite(obj):
        raise DcganError(f"refusing to write a non-finite number ({obj}) at {where or 'the top level'} into JSON")
    if isinstance(obj, dict):
        for k, v in obj.items():
            check_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_finite(v, f"{where}[{i}]")


def to_json(obj: Any, *, indent: int | None = 2) -> str:
    check_finite(obj)
    return json.dumps(obj, indent=indent, allow_nan=False)


def write_json(path: str | Path, obj: Any, *, what: str = "JSON report") -> Path:
    return write_bytes(path, (to_json(obj) + "\n").encode(), what=what)


def remove_stale_temps(folder: Path, recursive: bool = True) -> int:
    """Delete temp files (or folders) that dead processes left in folder (and below); returns the count."""
    n = 0
    found = Path(folder).rglob(f"*{TEMP_MARK}*") if recursive else Path(folder).glob(f"*{TEMP_MARK}*")
    for p in list(found):
        if not p.exists():
            continue  # inside a temp folder removed a moment ago
        pid = p.name.split(TEMP_MARK, 1)[1].split(".", 1)[0]
        if not pid.isdigit() or (int(pid) != os.getpid() and _alive(int(pid))):
            continue  # still being written by a live process (or not a name we gave)
        try:
            if p.is_dir():
                import shutil

                shutil.rmtree(p)
            else:
                p.unlink()
            n += 1
        except OSError:
            pass
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def check_image_path(path: Path, flag: str = "--out", suffixes: tuple[str, ...] = IMAGE_SUFFIXES) -> Path:
    """Refuse, before any work, a target that cannot take a picture."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name such as {path / ('grid' + suffixes[0])}")
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{flag} {path} needs a picture extension: {', '.join(suffixes)}")
    return path


def check_outputs(out: Path | None, json_path: Path | None = None) -> None:
    """Refuse, before any work, a picture (--out) or report (--json) path that cannot take the file."""
    check_file_target(json_path, "--json")
    if out is not None:
        check_image_path(out)


def check_folder_path(path: Path, flag: str) -> Path:
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file; give a folder")
    return path


def why_missing(path: Path) -> str:
    """Why `path` cannot be opened: 'is a symbolic link loop', 'is a broken symbolic link', 'does not exist'."""
    try:
        Path(path).stat()
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symbolic link loop; point at the real file"
        if Path(path).is_symlink():
            return "is a broken symbolic link"
        if e.errno in (errno.EACCES, errno.EPERM):
            return "cannot be read (permission denied)"
    return "does not exist"


def recorded_paths(paths: list[str | Path]) -> list[str]:
    """Paths as a record written beside the outputs keeps them: relative to the working folder when all are
    inside it, else relative to the folder they share (one file: its name), so that no absolute path of this
    machine travels with the record and two inputs of one name stay apart (a/x.png, b/x.png)."""
    resolved = [Path(p).resolve() for p in paths]
    if not resolved:
        return []
    for base in (Path.cwd().resolve(), Path(os.path.commonpath([p.parent for p in resolved]))):
        try:
            return [str(p.relative_to(base)) for p in resolved]
        except ValueError:
            continue
    return [p.name for p in resolved]


def recorded_path(path: str | Path) -> str:
    return recorded_paths([path])[0]
