"""Data sets: readers for their real on-disk layouts, the decoded-once cache, the built-in shapes."""

from .cache import ImageData, load_data, open_cache
from .listing import list_caches
from .locate import checkpoint_data
from .source import DataError

__all__ = ["DataError", "ImageData", "checkpoint_data", "list_caches", "load_data", "open_cache"]
