"""The CLI's one vocabulary: the same option name for the same thing in every command.

Each function returns the ``typer.Option`` of one concept, with its canonical name first and
any older spelling kept as an alias, so a command writes ``root: Annotated[Path, root()]`` and
only chooses the help text. Names used by more than one command:

============  ===============================  ==========================================
option        aliases                          meaning
============  ===============================  ==========================================
--root        --fma-root                       dataset root: FMA, a folder per label, a manifest
--format                                       fma | folders | manifest (default: detected)
--subset                                       small | medium | large | full
--cache-dir                                    feature cache shared by every command
--out                                          where the command writes (folder or file)
--seed                                         seed of splits, models, synthetic data
--n-jobs                                       parallel workers (-1 = all cores)
--device                                       auto | cpu | cuda | cuda:N
--test-dir                                     challenge folder of <file_id>.mp3
--resplit     --official-split, --no-resplit   ignore set.split, re-split by artist
--scheduler                                    Dask scheduler for feature extraction
============  ===============================  ==========================================

Every numeric option has bounds, checked when the option is parsed, before any work: outside
them it is one line and exit 1, as ``run --seed -1`` is (:class:`Bounds` through
:func:`number`; an option that is also a run option, :class:`FieldBounds`, is checked by the
run's schema). typer's own ``min=``/``max=`` would print a usage box and exit 2.
tests/commands/test_cli_numeric_options.py walks every command and fails for a numeric option
made without them. :func:`parse_duration` reads a time option such as ``--budget 9h30m``.
"""

from __future__ import annotations

import re
from typing import Any

import typer

from harness.config.schema import (  # the run's schema holds the help its fields share
    CACHE_DIR_HELP,
    DEVICE_HELP,
    FORMAT_HELP,
    MIN_DURATION_HELP,
    RESPLIT_HELP,
    ROOT_HELP,
    SCHEDULER_HELP,
    SUBSET_HELP,
    TEST_DIR_HELP,
)
from harness.errors import ParameterError

N_JOBS_HELP = "Parallel workers (-1 = all cores)."


def root(help: str = ROOT_HELP) -> Any:
    """``--root`` (alias ``--fma-root``): the dataset root."""
    return typer.Option("--root", "--fma-root", help=help)


def data_format(help: str = FORMAT_HELP) -> Any:
    """``--format``: which dataset format ``--root`` is in (None: detected)."""
    return typer.Option("--format", help=help)


def subset(help: str = SUBSET_HELP) -> Any:
    """``--subset``: which FMA subset."""
    return typer.Option("--subset", help=help)


def cache_dir(help: str = CACHE_DIR_HELP) -> Any:
    """``--cache-dir``: the feature cache."""
    return typer.Option("--cache-dir", help=help)


def out(help: str) -> Any:
    """``--out``: where the command writes (its help says what)."""
    return typer.Option("--out", help=help)


class Bounds:
    """A numeric option's range, the callback that checks it: outside it, one line naming the
    option, the value and the range (a ParameterError: exit 1).

    Parameters
    ----------
    name : str
        The option as typed (``--top-k``).
    whole : bool
        A whole number (else any number).
    ge, gt, le, lt : float, optional
        The bounds (>=, >, <=, <).
    hint : str
        What to do, after the range.
    """

    def __init__(
        self,
        name: str,
        *,
        whole: bool,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        lt: float | None = None,
        hint: str = "",
    ) -> None:
        self.name, self.whole, self.hint = name, whole, hint
        self.ge, self.gt, self.le, self.lt = ge, gt, le, lt

    def expected(self) -> str:
        """The range in words: ``a whole number >= 1``, ``a number > 0 and <= 0.5``."""
        kind = "a whole number" if self.whole else "a number"
        limits = [(">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)]
        return f"{kind} " + " and ".join(f"{op} {v:g}" for op, v in limits if v is not None)

    def outside(self) -> list[float]:
        """A value just beyond each bound (the tests give each in turn)."""
        step = 1 if self.whole else 0.001
        values = [self.ge - step if self.ge is not None else None, self.gt, self.lt]
        values.append(self.le + step if self.le is not None else None)
        return [v for v in values if v is not None]

    def __call__(self, value: float | None) -> float | None:
        if value is None:
            return value
        inside = (self.ge is None or value >= self.ge) and (self.gt is None or value > self.gt)
        inside &= (self.le is None or value <= self.le) and (self.lt is None or value < self.lt)
        if not inside:
            hint = f"; {self.hint}" if self.hint else ""
            raise ParameterError(f"{self.name} {value:g}: expected {self.expected()}{hint}")
        return value


class FieldBounds:
    """The bounds of an option that is also a run option: the run's schema checks it
    (:func:`harness.config.validation.check_field`), so both give the same line.

    ``outside``: values the schema refuses (what the tests give)."""

    def __init__(self, field: str, *, outside: tuple[float, ...]) -> None:
        self.field, self._outside = field, outside

    def outside(self) -> list[float]:
        return list(self._outside)

    def __call__(self, value: Any) -> Any:
        if value is not None:
            from harness.config.validation import check_field  # pydantic: not for --help

            check_field(self.field, value)
        return value


#: option name -> its bounds, for every option made by :func:`number` (one name, one meaning)
BOUNDS: dict[str, Bounds | FieldBounds] = {}


def number(*names: str, help: str, bounds: Bounds | FieldBounds) -> Any:
    """A numeric option checked by ``bounds`` when it is parsed (see the module docstring)."""
    BOUNDS[names[0]] = bounds
    return typer.Option(*names, help=help, callback=bounds.__call__)  # typer wants a function


def bounded(name: str, help: str, *, whole: bool, **limits: float) -> Any:
    """A numeric option ``name`` within ``limits`` (``ge``, ``gt``, ``le``, ``lt``, ``hint``
    of :class:`Bounds`)."""
    return number(name, help=help, bounds=Bounds(name, whole=whole, **limits))


def seed(help: str) -> Any:
    """``--seed``: the seed (its help says of what); outside 0 <= seed < 2**32 it is one line
    and exit 1 before any work, in every command (numpy's own error was a traceback)."""
    return number("--seed", help=help, bounds=FieldBounds("seed", outside=(-1, 2**32)))


def n_jobs(help: str = N_JOBS_HELP) -> Any:
    """``--n-jobs``: parallel workers; 0 is one line, exit 1 (joblib's own error for it was a
    traceback from deep in the first parallel call)."""
    return number("--n-jobs", help=help, bounds=FieldBounds("n_jobs", outside=(0,)))


def device(help: str = DEVICE_HELP) -> Any:
    """``--device``: where torch models train."""
    return typer.Option("--device", help=help)


def test_dir(help: str = TEST_DIR_HELP) -> Any:
    """``--test-dir``: the challenge folder."""
    return typer.Option("--test-dir", help=help)


def resplit(help: str = RESPLIT_HELP) -> Any:
    """``--resplit/--official-split`` (``--no-resplit`` also turns it off)."""
    return typer.Option("--resplit/--official-split", " /--no-resplit", help=help)


def scheduler(help: str = SCHEDULER_HELP) -> Any:
    """``--scheduler``: a Dask scheduler for feature extraction."""
    return typer.Option("--scheduler", help=help)


def min_duration(help: str = MIN_DURATION_HELP) -> Any:
    """``--min-duration``: the shortest clip that is not 'short' (seconds >= 0)."""
    bounds = FieldBounds("min_duration", outside=(-1.0,))
    return number("--min-duration", help=help, bounds=bounds)


def top_k(help: str) -> Any:
    """``--top-k``: genres or tags named per row (1 or more)."""
    return bounded("--top-k", help, whole=True, ge=1)


TRUST_TYPE_HELP = (
    "A type (module.Type) a bundle's model.skops may hold beyond the built-in baselines' "
    "(repeatable); only for a bundle from someone you trust."
)
TRUST_PICKLE_HELP = (
    "Load a format-1 bundle's model.joblib, a pickle that runs code from the file (a warning "
    "is printed); only for a bundle from someone you trust."
)


def trust_type(help: str = TRUST_TYPE_HELP) -> Any:
    """``--trust-type module.Type`` (repeatable): a type a bundle's estimator file may hold."""
    return typer.Option("--trust-type", help=help, metavar="MODULE.TYPE")


def trust_pickle(help: str = TRUST_PICKLE_HELP) -> Any:
    """``--trust-pickle``: load (or convert) a format-1 bundle's pickle."""
    return typer.Option("--trust-pickle", help=help)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``90s``, ``30m``, ``10h``, ``1h30m`` or ``45`` (seconds)."""
    value = str(text).strip().lower()
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhd]?)", value)
    if not value or re.sub(r"(\d+(?:\.\d+)?)\s*([smhd]?)", "", value).strip() or not parts:
        raise ParameterError(
            f"--budget {text!r} is not a duration; write e.g. 90s, 30m, 10h or 1h30m"
        )
    seconds = sum(float(n) * _UNITS[u or "s"] for n, u in parts)
    if seconds <= 0:
        raise ParameterError(f"--budget {text!r} must be longer than 0 s")
    return seconds
