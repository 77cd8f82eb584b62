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
"""

from __future__ import annotations

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

N_JOBS_HELP = "Parallel workers (-1 = all cores)."
N_JOBS_ZERO = "0 workers; expected 1 or more, or -1 for every core (-2: all but one)"


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


def seed(help: str) -> Any:
    """``--seed``: the seed (its help says of what); outside 0 <= seed < 2**32 it is one line
    and exit 1 before any work, in every command (numpy's own error was a traceback)."""
    return typer.Option("--seed", help=help, callback=_seed_in_range)


def _seed_in_range(value: int | None) -> int | None:
    if value is not None:
        from harness.config.validation import check_seed

        check_seed(value)
    return value


def n_jobs(help: str = N_JOBS_HELP) -> Any:
    """``--n-jobs``: parallel workers (0 is refused as a usage error)."""
    return typer.Option("--n-jobs", help=help, callback=_workers)


def _workers(value: int | None) -> int | None:
    if value == 0:  # joblib's own error for it is a traceback from deep in the first parallel call
        raise typer.BadParameter(N_JOBS_ZERO)
    return value


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
    """``--min-duration``: the shortest clip that is not 'short'."""
    return typer.Option("--min-duration", help=help)


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
