"""The harness's exception hierarchy.

Every error a user can cause derives from :class:`HarnessError`, so the CLI can print it as one
clean line and exit non-zero instead of showing a traceback. Messages say which file, which row
or column, what was expected, and what to do.
"""


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class DataError(HarnessError):
    """A dataset file or directory is missing or malformed."""


class ParameterError(HarnessError, ValueError):
    """An argument has the wrong shape, type, range or label set."""
