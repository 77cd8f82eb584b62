"""The harness's console messages: one logger, three verbosities.

Stages report progress through :func:`info` (shown unless ``--quiet``) and :func:`detail`
(shown with ``--verbose``); warnings and errors always show. The messages go to the current
``sys.stdout`` (looked up at each message: a test runner or a notebook may swap it), with no
prefix, so that a log file reads like the terminal. ``fma-harness --quiet CMD`` and
``fma-harness --verbose CMD`` set the verbosity (:func:`set_verbosity`) for every command; a
Python session gets the default (information, no details).
"""

from __future__ import annotations

import logging
import sys

LOGGER = logging.getLogger("harness")
QUIET, NORMAL, VERBOSE = -1, 0, 1
LEVELS = {QUIET: logging.WARNING, NORMAL: logging.INFO, VERBOSE: logging.DEBUG}


class _CurrentStdout(logging.StreamHandler):
    """A StreamHandler writing to whatever ``sys.stdout`` is when a message is emitted."""

    @property
    def stream(self):  # noqa: D102 - logging's attribute
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # logging assigns it in __init__; the property wins
        pass


def _install() -> None:
    if not any(isinstance(h, _CurrentStdout) for h in LOGGER.handlers):
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        LOGGER.addHandler(handler)
    LOGGER.propagate = False


def set_verbosity(level: int) -> None:
    """:data:`QUIET` (warnings and errors only), :data:`NORMAL` or :data:`VERBOSE`."""
    if level not in LEVELS:
        raise ValueError(f"verbosity must be one of {sorted(LEVELS)}, got {level!r}")
    LOGGER.setLevel(LEVELS[level])


def verbosity() -> int:
    """The current verbosity: :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`."""
    by_level = {level: name for name, level in LEVELS.items()}
    return by_level.get(LOGGER.level, NORMAL)


def info(message: str) -> None:
    """A progress message (a stage started or ended, a figure), hidden by ``--quiet``."""
    LOGGER.info(message)


def detail(message: str) -> None:
    """A message for ``--verbose`` only."""
    LOGGER.debug(message)


def warning(message: str) -> None:
    """Shown at every verbosity."""
    LOGGER.warning(message)


def is_quiet() -> bool:
    """True when progress messages (and progress bars) are switched off."""
    return not LOGGER.isEnabledFor(logging.INFO)


_install()
set_verbosity(NORMAL)
