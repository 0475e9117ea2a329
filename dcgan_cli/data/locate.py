"""Finding the data a checkpoint was trained on, without trusting the checkpoint's paths.

A checkpoint records its data set's name, size, channels, the fingerprint of the source files
and, for the record, where they were. Those paths are shown to the user but never read: data
comes only from where the user points (--data-root, --cache-dir, $DCGAN_CACHE) or from a
prepared cache in the user's own cache folder whose manifest matches the checkpoint's data set.
"""

from __future__ import annotations

from pathlib import Path

from ..core.errors import DcganError
from ..core.progress import Progress
from .cache import ImageData, load_data
from .listing import find_caches
from .source import DataError


def checkpoint_data(
    ckpt,
    split: str = "train",
    *,
    data_root: Path | None = None,
    cache_dir: Path | None = None,
    on_progress: Progress | None = None,
) -> ImageData:
    """The prepared `split` of the data set `ckpt` was trained on, at the model's size and channels."""
    ds = ckpt.dataset
    name = ds.name
    if not name:
        raise DcganError(f"{ckpt.path} does not record its data set; pass the data another way or retrain")
    cfg = ckpt.model_config
    if data_root is not None or name == "shapes":
        try:
            data = load_data(name, cfg.size, root=data_root, split=split, cache_root=cache_dir,
                             channels=cfg.nc, on_progress=on_progress)
        except DataError as e:
            raise DcganError(f"the {split} data of {name} cannot be prepared from --data-root {data_root}: {e}") from None
        return data
    matches = [d for d in find_caches(cache_dir) if _matches(d, ckpt, split)]
    if split == "train" and ds.fingerprint:
        exact = [d for d in matches if d.fingerprint == ds.fingerprint]
        if exact:
            return exact[0]
    if split == "test" and ds.fingerprint:
        # The test split of the same source: its cache sits beside the train cache of that
        # fingerprint, or is built from where that cache (in the user's own cache folder, so a
        # place the user once pointed at) says the files are.
        train = [d for d in find_caches(cache_dir) if _matches(d, ckpt, "train") and d.fingerprint == ds.fingerprint]
        same = [d for d in matches if train and _source(d) == _source(train[0])]
        if same:
            return same[0]
        source = _source(train[0]) if train else None
        if source and source != "built in":
            root = Path(source).parent if Path(source).is_file() else Path(source)
            if not _yours(train[0].cache_dir):
                raise DcganError(
                    f"the {split} data of {name} is not prepared, and the train cache that says its files are in {root} "
                    f"({train[0].cache_dir}) is not yours; if that folder is right, pass --data-root {root}"
                )
            try:
                return load_data(
                    name, cfg.size, root=root, split="test", cache_root=cache_dir, channels=cfg.nc, on_progress=on_progress
                )
            except DataError:
                pass  # no test split there: the message below asks for --data-root
    if len(matches) == 1 and not ds.fingerprint:
        return matches[0]  # a checkpoint from before fingerprints were recorded: the one candidate
    where = f" (it was trained on files at {ds.root})" if ds.root else ""
    if split == "test" and name == "folder":  # its test split is its 1-in-50 holdout, prepared with it
        raise DcganError(f"the test split of this folder data set is not prepared{where}; pass --data-root pointing at the "
                         "folder (1 image in 50 is held out as its test split; a folder of fewer images may hold none)")
    raise DcganError(
        f"the {split} data of {name} at {cfg.size}px is not prepared in the cache{where}; "
        f"pass --data-root pointing at the data set, or run `dcgan data prepare --dataset {name} --size {cfg.size} "
        f"--split {split} --data-root ...`"
    )


def _yours(cache: Path) -> bool:
    """The trust boundary for following a manifest's `source`: the cache folder and its manifest must
    be owned by this user, as a cache this user prepared is. In a shared cache folder someone else's
    manifest could point anywhere, so its folder is shown in the error, never read."""
    import os

    if not hasattr(os, "getuid"):  # Windows: no owner to compare
        return True
    try:
        return all(os.stat(p).st_uid == os.getuid() for p in (cache, Path(cache) / "manifest.json"))
    except OSError:
        return False


def _matches(d: ImageData, ckpt, split: str) -> bool:
    return (d.name == ckpt.dataset.name and d.split == split and d.size == ckpt.model_config.size
            and d.channels == ckpt.model_config.nc)


def _source(d: ImageData) -> str | None:
    import json

    try:
        return json.loads((d.cache_dir / "manifest.json").read_text()).get("source")
    except (OSError, ValueError):
        return None
