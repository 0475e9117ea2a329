"""The package's version, as installed: pyproject.toml is the one place it is written."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("dcgan-cli")
except PackageNotFoundError:  # imported from a source tree that was never installed
    VERSION = "0+unknown"
