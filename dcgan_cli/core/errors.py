"""The one exception type the CLI turns into a one-line message and an exit code."""

from __future__ import annotations


class DcganError(Exception):
    """A problem the user can fix. `exit_code` 2 means bad usage, 1 means the work failed."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(DcganError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=2)
